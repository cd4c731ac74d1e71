using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Native;

public static partial class LlamaLibrary
{
    // Event ids 1000-1099 belong to the native binding; keep them stable.
    private static partial class Log
    {
        [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "Loaded native library {Path}")]
        public static partial void LibraryLoaded(ILogger logger, string path);

        [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "ggml backend registered: {Backend}")]
        public static partial void BackendRegistered(ILogger logger, string backend);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "ggml device: {Device} ({Description}, {DeviceType})")]
        public static partial void DeviceRegistered(ILogger logger, string device, string description, string deviceType);

        [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "ggml backend module loaded: {Path}")]
        public static partial void BackendModuleLoaded(ILogger logger, string path);

        [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "llama.cpp {Tag} initialised from {Directory}")]
        public static partial void Initialized(ILogger logger, string tag, string directory);

        [LoggerMessage(EventId = 1005, Level = LogLevel.Debug, Message = "llama.cpp system info: {SystemInfo}")]
        public static partial void SystemInfo(ILogger logger, string systemInfo);

        [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "llama.cpp native initialisation failed")]
        public static partial void InitializeFailed(ILogger logger, Exception exception);

        /// <summary>A line logged by llama.cpp or ggml; the level is mapped by <see cref="LlamaLogBridge"/>.</summary>
        [LoggerMessage(EventId = 1010, Message = "{NativeMessage}")]
        public static partial void NativeMessage(ILogger logger, LogLevel level, string nativeMessage);
    }

    /// <summary>Lets the log bridge reuse the source-generated native-message logger.</summary>
    internal static void WriteNativeMessage(ILogger logger, LogLevel level, string message) => Log.NativeMessage(logger, level, message);
}
