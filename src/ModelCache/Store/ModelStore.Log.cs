using Microsoft.Extensions.Logging;

namespace InferenceMesh.ModelCache.Store;

internal sealed partial class ModelStore
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 100, EventName = "ModelRegistered", Level = LogLevel.Information,
            Message = "Registered model '{Name}' as sha256 {Digest} ({SizeBytes} bytes).")]
        public static partial void Registered(ILogger logger, string name, string digest, long sizeBytes);

        [LoggerMessage(EventId = 101, EventName = "ModelRejected", Level = LogLevel.Warning,
            Message = "Did not register model '{Name}': {Reason}")]
        public static partial void Rejected(ILogger logger, string name, string reason);

        [LoggerMessage(EventId = 102, EventName = "ModelQuarantined", Level = LogLevel.Error,
            Message = "File '{Path}' does not match sha256 {Expected} (found {Actual}); moved to '{QuarantinePath}'.")]
        public static partial void Quarantined(ILogger logger, string path, string expected, string actual, string quarantinePath);

        [LoggerMessage(EventId = 103, EventName = "ModelFileMissing", Level = LogLevel.Error,
            Message = "File '{Path}' of sha256 {Expected} is missing.")]
        public static partial void Missing(ILogger logger, string path, string expected);

        [LoggerMessage(EventId = 104, EventName = "LooseFileHashed", Level = LogLevel.Information,
            Message = "Hashed loose model file '{FileName}': sha256 {Digest}.")]
        public static partial void LooseHashed(ILogger logger, string fileName, string digest);

        [LoggerMessage(EventId = 105, EventName = "ModelRemoved", Level = LogLevel.Information,
            Message = "Removed model '{Name}' (file deleted: {FileDeleted}).")]
        public static partial void Removed(ILogger logger, string name, bool fileDeleted);

        [LoggerMessage(EventId = 106, EventName = "AdapterRegistered", Level = LogLevel.Information,
            Message = "Registered LoRA adapter '{Name}' for base model '{BaseName}' as sha256 {Digest}.")]
        public static partial void AdapterRegistered(ILogger logger, string name, string baseName, string digest);

        [LoggerMessage(EventId = 107, EventName = "AdapterRejected", Level = LogLevel.Warning,
            Message = "Did not register LoRA adapter '{Name}': {Reason}")]
        public static partial void AdapterRejected(ILogger logger, string name, string reason);

        [LoggerMessage(EventId = 108, EventName = "AdapterRemoved", Level = LogLevel.Information,
            Message = "Removed LoRA adapter '{Name}'.")]
        public static partial void AdapterRemoved(ILogger logger, string name);
    }
}
