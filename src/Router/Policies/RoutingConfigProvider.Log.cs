using Microsoft.Extensions.Logging;

namespace InferenceMesh.Router.Policies;

internal sealed partial class RoutingConfigProvider
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 201, EventName = "RoutingConfigReloaded", Level = LogLevel.Information,
            Message = "Routing config reloaded: policy '{Policy}', version {Version}, {BackendCount} backends.")]
        public static partial void Reloaded(ILogger logger, string policy, long version, int backendCount);

        [LoggerMessage(EventId = 202, EventName = "RoutingConfigReloadRejected", Level = LogLevel.Error,
            Message = "Routing config change rejected, keeping version {KeptVersion}: {File}:{Line}:{Column}: {Reason}")]
        public static partial void ReloadRejected(ILogger logger, string file, int line, int column, string reason, long keptVersion);

        [LoggerMessage(EventId = 203, EventName = "RoutingConfigWatcherError", Level = LogLevel.Warning,
            Message = "Watching '{Folder}' for config changes failed; changes may be missed until restart.")]
        public static partial void WatcherError(ILogger logger, string folder, Exception exception);

        [LoggerMessage(EventId = 205, EventName = "RoutingConfigWarning", Level = LogLevel.Warning,
            Message = "Routing config version {Version}: {File}:{Line}: {Reason}")]
        public static partial void ConfigWarning(ILogger logger, long version, string file, int line, string reason);

        [LoggerMessage(EventId = 204, EventName = "RoutingConfigReloadFailed", Level = LogLevel.Error,
            Message = "Routing config reload failed unexpectedly; keeping the current config.")]
        public static partial void ReloadFailed(ILogger logger, Exception exception);
    }
}
