using Microsoft.Extensions.Logging;

namespace InferenceMesh.Classifier.Model;

/// <summary>The prompt model's log events. Never logs prompt text.</summary>
internal static partial class PromptModelLog
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Information,
        Message = "Prompt model loaded from {Source} (data set {DatasetVersion}, training seed {Seed})")]
    public static partial void Loaded(ILogger logger, string source, string datasetVersion, string seed);
}
