using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Mesh.Tests.Common;

/// <summary>Records every formatted log line (with its exception) of one host, to prove that prompts never appear there.</summary>
public sealed class RecordingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();
    private TaskCompletionSource _added = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>Completes once <paramref name="count"/> recorded lines contain <paramref name="text"/>.</summary>
    public async Task WaitForAsync(string text, int count, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (true)
        {
            var added = Volatile.Read(ref _added).Task;
            if (_lines.Count(l => l.Contains(text, StringComparison.Ordinal)) >= count)
            {
                return;
            }

            await added.WaitAsync(cancel.Token);
        }
    }

    private void Add(string line)
    {
        _lines.Enqueue(line);
        Interlocked.Exchange(ref _added, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Recorder(RecordingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Add($"{logLevel} {category} {formatter(state, exception)} {exception}");
    }
}
