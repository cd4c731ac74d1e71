using InferenceMesh.Classifier;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Router.Routing;

internal sealed partial class BackendRouter
{
    // Names of backends and models only: never prompt text, never keys.
    private static partial class Log
    {
        [LoggerMessage(EventId = 101, EventName = "RoutePlanned", Level = LogLevel.Debug,
            Message = "Routed a {Privacy} request for model '{Model}': {Steps} ({ExcludedCount} excluded).")]
        public static partial void Planned(ILogger logger, PrivacyLevel privacy, string model, string steps, int excludedCount);

        [LoggerMessage(EventId = 102, EventName = "RoutePlanEmpty", Level = LogLevel.Warning,
            Message = "No allowed backend can serve a {Privacy} request for model '{Model}' ({ExcludedCount} excluded); nothing is sent.")]
        public static partial void EmptyPlan(ILogger logger, PrivacyLevel privacy, string model, int excludedCount);
    }
}
