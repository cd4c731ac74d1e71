using Microsoft.Extensions.Logging;

namespace InferenceMesh.ModelCache.Catalog;

internal sealed partial class ModelCatalog
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "ModelsFolderMissing", Level = LogLevel.Warning,
            Message = "Models folder '{Directory}' does not exist; no models are listed.")]
        public static partial void FolderMissing(ILogger logger, string directory);

        [LoggerMessage(EventId = 2, EventName = "InvalidModelFile", Level = LogLevel.Warning,
            Message = "Ignoring invalid model file '{FileName}': {Reason}")]
        public static partial void InvalidFile(ILogger logger, string fileName, string reason);

        [LoggerMessage(EventId = 3, EventName = "ModelFound", Level = LogLevel.Information,
            Message = "Model '{Id}': {Architecture}, {Quantization}, {ParameterCount} parameters, {SizeBytes} bytes.")]
        public static partial void ModelFound(ILogger logger, string id, string architecture, string? quantization, long parameterCount, long sizeBytes);

        [LoggerMessage(EventId = 4, EventName = "ModelsFolderScanned", Level = LogLevel.Debug,
            Message = "Scanned '{Directory}': {ModelCount} models, {InvalidCount} invalid files, {FilesRead} files read.")]
        public static partial void Scanned(ILogger logger, string directory, int modelCount, int invalidCount, int filesRead);

        [LoggerMessage(EventId = 5, EventName = "ModelsFolderScanFailed", Level = LogLevel.Error,
            Message = "Cannot list models folder '{Directory}'; keeping the previous listing.")]
        public static partial void ScanFailed(ILogger logger, string directory, Exception exception);

        [LoggerMessage(EventId = 6, EventName = "ModelManifestUnreadable", Level = LogLevel.Error,
            Message = "Cannot read the model manifest '{Manifest}'; listing only loose *.gguf files.")]
        public static partial void ManifestUnreadable(ILogger logger, string manifest, Exception exception);
    }
}
