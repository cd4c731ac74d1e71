using Microsoft.Extensions.Logging;

namespace InferenceMesh.Classifier;

internal sealed partial class PrivacyClassifier
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "PromptModelUnavailable", Level = LogLevel.Error,
            Message = "No prompt model is available; every prompt is classified at least {Level} until the process restarts.")]
        public static partial void ModelUnavailable(ILogger logger, PrivacyLevel level);

        [LoggerMessage(EventId = 2, EventName = "PromptModelFailed", Level = LogLevel.Error,
            Message = "The prompt model failed ({Reason}); such prompts are classified at least {Level}. Logged once; later failures are not logged.")]
        public static partial void ModelFailed(ILogger logger, string reason, PrivacyLevel level);

        [LoggerMessage(EventId = 3, EventName = "PromptModelLoadFailed", Level = LogLevel.Error,
            Message = "The prompt model could not be loaded ({Reason}).")]
        public static partial void ModelLoadFailed(ILogger logger, string reason, Exception exception);
    }

    /// <summary>For the registration, which resolves the model before the classifier exists.</summary>
    internal static void LogModelLoadFailed(ILogger logger, Exception exception) =>
        Log.ModelLoadFailed(logger, exception.GetType().Name, exception);
}
