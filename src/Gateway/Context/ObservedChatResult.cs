using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Routing;

namespace InferenceMesh.Gateway.Context;

/// <summary>
/// Runs a chat result, then the context stages' answer observers once, with the captured answer, the backend that
/// gave it and the privacy level the request was routed at. Observers run before the response ends (a client that
/// read the whole answer can list what was stored at once) and under no client token (a client closing the
/// connection right after the last event does not cancel the store). A failing observer is logged, never shown.
/// </summary>
internal sealed partial class ObservedChatResult(IResult inner, RoutedChat routed, ILogger logger) : IResult
{
    /// <summary>The result itself when the request has no observers: nothing is captured or wrapped.</summary>
    public static IResult Wrap(IResult result, RoutedChat routed, ILogger logger) =>
        routed.Chat.Capture is null ? result : new ObservedChatResult(result, routed, logger);

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        await inner.ExecuteAsync(httpContext);
        var chat = routed.Chat;
        if (chat.Capture is not { Completed: true } capture || chat.Context is not { } context)
        {
            Log.NotObserved(logger);
            return;
        }

        var backend = capture.Backend ?? httpContext.Response.Headers[BackendDefaults.BackendHeader].ToString();
        var answer = new ChatAnswer(capture.Text, backend, routed.Plan.Privacy.Level, capture.FinishReason, capture.ToolCalls);
        foreach (var observer in context.AnswerObservers)
        {
            try
            {
                await observer(answer, CancellationToken.None);
            }
            catch (Exception ex)
            {
                Log.ObserverFailed(logger, ex.GetType().Name, ex);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2200, Level = LogLevel.Debug, Message = "The answer did not complete (client left or backend failed): answer observers not run")]
        public static partial void NotObserved(ILogger logger);

        [LoggerMessage(EventId = 2201, Level = LogLevel.Error, Message = "An answer observer failed ({ExceptionType}); the client's answer is unaffected")]
        public static partial void ObserverFailed(ILogger logger, string exceptionType, Exception exception);
    }
}
