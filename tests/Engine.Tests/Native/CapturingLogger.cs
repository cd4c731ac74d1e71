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

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue(new Entry(logLevel, eventId, formatter(state, exception)));

    public sealed record Entry(LogLevel Level, EventId EventId, string Message);
}
