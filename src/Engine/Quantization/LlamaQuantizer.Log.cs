using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Quantization;

internal sealed partial class LlamaQuantizer
{
    // Event ids 2401-2499 belong to quantisation; keep them stable.
    private static partial class Log
    {
        [LoggerMessage(EventId = 2401, Level = LogLevel.Information, Message = "Quantising {Input} to {Type} as {Output} with {Threads} threads")]
        public static partial void Started(ILogger logger, string type, string input, string output, int threads);

        [LoggerMessage(EventId = 2402, Level = LogLevel.Information, Message = "Quantised to {Type}: {Output}, {Bytes} bytes in {ElapsedMs:0} ms")]
        public static partial void Finished(ILogger logger, string type, string output, long bytes, double elapsedMs);

        [LoggerMessage(EventId = 2403, Level = LogLevel.Warning, Message = "llama_model_quantize failed ({Code}) quantising {Input} to {Type}")]
        public static partial void NativeFailed(ILogger logger, string type, string input, uint code);

        [LoggerMessage(EventId = 2404, Level = LogLevel.Information, Message = "Quantising {Input} to {Type} was cancelled; the partial output was deleted")]
        public static partial void Cancelled(ILogger logger, string type, string input);

        [LoggerMessage(EventId = 2405, Level = LogLevel.Warning, Message = "Could not delete the partial output {Path}")]
        public static partial void PartialNotDeleted(ILogger logger, string path, Exception exception);

        [LoggerMessage(EventId = 2406, Level = LogLevel.Error, Message = "llama.cpp could not be loaded for quantisation")]
        public static partial void NativeUnavailable(ILogger logger, Exception exception);
    }
}
