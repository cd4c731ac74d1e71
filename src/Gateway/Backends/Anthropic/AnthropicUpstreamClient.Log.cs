namespace InferenceMesh.Gateway.Backends.Anthropic;

public sealed partial class AnthropicUpstreamClient
{
    // Never logs prompt or completion text, upstream error messages (they may quote the request), or keys.
    private static partial class Log
    {
        [LoggerMessage(EventId = 1650, Level = LogLevel.Debug, Message = "Anthropic backend {Backend} completed ({FinishReason})")]
        public static partial void Completed(ILogger logger, string backend, string finishReason);

        [LoggerMessage(EventId = 1651, Level = LogLevel.Debug, Message = "Anthropic backend {Backend} stream completed ({FinishReason})")]
        public static partial void StreamCompleted(ILogger logger, string backend, string finishReason);

        [LoggerMessage(EventId = 1652, Level = LogLevel.Warning, Message = "Anthropic backend {Backend} failed: {Kind} (upstream status {Status})")]
        public static partial void Failed(ILogger logger, string backend, AnthropicFailureKind kind, int? status);

        [LoggerMessage(EventId = 1653, Level = LogLevel.Warning, Message = "Anthropic backend {Backend} failed: {Kind} (upstream status {Status})")]
        public static partial void FailedWithException(ILogger logger, string backend, AnthropicFailureKind kind, int? status, Exception exception);

        [LoggerMessage(EventId = 1654, Level = LogLevel.Information, Message = "Request cannot be sent to Anthropic backend {Backend}: unsupported or invalid {Param}")]
        public static partial void Untranslatable(ILogger logger, string backend, string? param);
    }
}
