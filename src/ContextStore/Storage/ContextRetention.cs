using InferenceMesh.ContextStore.Conversations;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.ContextStore.Storage;

/// <summary>
/// The context store's maintenance: opens the context database when the host starts (so its migrations run at start, not
/// on the first request) and purges what has expired at start and then every <see cref="ConversationStoreOptions.PurgeInterval"/>
/// on the injected clock: conversation history when a history retention is set, and every module that registered an
/// <see cref="IExpiringStore"/> (stored responses). A failed purge is logged and retried at the next tick; it never stops the host.
/// </summary>
internal sealed partial class ContextRetention(
    IServiceProvider services, ContextStoreOptions storeOptions, ConversationStoreOptions options, TimeProvider time, ILogger<ContextRetention> logger)
    : IHostedService, IDisposable
{
    private IExpiringStore[] _expiring = [];
    private ITimer? _timer;
    private IConversationStore? _store;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.OpenContextStore();
        _store = services.GetRequiredService<IConversationStore>();
        _expiring = [.. services.GetServices<IExpiringStore>()]; // resolved once the database is open: a failure to open it is OpenContextStore's one line

        Log.Opened(logger, storeOptions.DatabasePath);
        if (PurgesHistory || _expiring.Length > 0)
        {
            Purge();
            _timer = time.CreateTimer(static state => ((ContextRetention)state!).Purge(), this, options.PurgeInterval, options.PurgeInterval);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        return Task.CompletedTask;
    }

    public void Dispose() => _timer?.Dispose();

    private bool PurgesHistory => options.Retention is not null && options.Enabled;

    private void Purge()
    {
        if (PurgesHistory)
        {
            try
            {
                var purged = _store!.PurgeExpired();
                if (purged.Items + purged.Conversations > 0)
                {
                    Log.Purged(logger, purged.Items, purged.Conversations);
                }
            }
            catch (SqliteException ex)
            {
                Log.PurgeFailed(logger, ex.SqliteErrorCode, ex);
            }
        }

        foreach (var store in _expiring)
        {
            try
            {
                if (store.PurgeExpired() is > 0 and var count)
                {
                    Log.ModulePurged(logger, count, store.Module);
                }
            }
            catch (SqliteException ex)
            {
                Log.ModulePurgeFailed(logger, store.Module, ex.SqliteErrorCode, ex);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2100, Level = LogLevel.Debug, Message = "Context store open at {Path}")]
        public static partial void Opened(ILogger logger, string path);

        [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "History retention purged {Items} item(s) and {Conversations} conversation(s)")]
        public static partial void Purged(ILogger logger, int items, int conversations);

        [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "History retention purge failed (SQLite error {Code}); retrying at the next interval")]
        public static partial void PurgeFailed(ILogger logger, int code, Exception exception);

        [LoggerMessage(EventId = 2103, Level = LogLevel.Information, Message = "Retention purged {Count} expired record(s) of {Module}")]
        public static partial void ModulePurged(ILogger logger, int count, string module);

        [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "Retention purge of {Module} failed (SQLite error {Code}); retrying at the next interval")]
        public static partial void ModulePurgeFailed(ILogger logger, string module, int code, Exception exception);
    }
}
