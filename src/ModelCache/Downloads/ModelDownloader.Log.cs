using Microsoft.Extensions.Logging;

namespace InferenceMesh.ModelCache.Downloads;

internal sealed partial class ModelDownloader
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 200, EventName = "DownloadResuming", Level = LogLevel.Information,
            Message = "Resuming '{Source}' at byte {Offset}.")]
        public static partial void Resuming(ILogger logger, string source, long offset);

        [LoggerMessage(EventId = 201, EventName = "DownloadRestarting", Level = LogLevel.Warning,
            Message = "Restarting '{Source}' from byte 0: {Reason}")]
        public static partial void Restarting(ILogger logger, string source, string reason);

        [LoggerMessage(EventId = 202, EventName = "DownloadAttemptFailed", Level = LogLevel.Warning,
            Message = "Download from '{Source}' failed: {Reason}")]
        public static partial void AttemptFailed(ILogger logger, string source, string reason);

        [LoggerMessage(EventId = 203, EventName = "DownloadDigestMismatch", Level = LogLevel.Error,
            Message = "'{Source}' served {Length} bytes with sha256 {Actual}, expected {Expected}; discarded.")]
        public static partial void DigestMismatch(ILogger logger, string source, long length, string actual, string expected);

        [LoggerMessage(EventId = 204, EventName = "DownloadCancelled", Level = LogLevel.Information,
            Message = "Download cancelled; {Bytes} bytes kept in '{PartialPath}' for the next pull to resume.")]
        public static partial void Cancelled(ILogger logger, long bytes, string partialPath);
    }
}
