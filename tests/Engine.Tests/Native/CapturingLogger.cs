using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Tests.Native;

/// <summary>An <see cref="ILogger"/> that keeps every entry (thread-safe); each test owns its own.</summary>
internal sealed class CapturingLogger : ILogger
{
    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyList<Entry> Entries => [.. _entries];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    /// <summary>Levels below this are not enabled (default: everything).</summary>
    public LogLevel MinimumLevel { get; init; } = LogLevel.Trace;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= MinimumLevel;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            _entries.Enqueue(new Entry(logLevel, eventId, formatter(state, exception)));
        }
    }

    public sealed record Entry(LogLevel Level, EventId EventId, string Message);
}
