using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Streaming;

/// <summary>
/// Streams the choices of a completions request (one prompt or a batch, × n) as OpenAI does: <c>text_completion</c>
/// chunks of all choices interleaved as they are generated, each carrying its choice's <c>index</c>; per choice first
/// its echoed prompt (with the prompt's log probabilities when asked for), then its text, then a chunk with its
/// finish reason; the usage of all choices in one chunk when <c>stream_options.include_usage</c> asked for it; one
/// <c>[DONE]</c>. A failure after the first byte is an error event, then <c>[DONE]</c>. Owns the run: the client
/// leaving cancels every choice and frees its slot.
/// </summary>
internal sealed partial class CompletionStreamResult(
    CompletionRun run, string id, long created, string model, bool includeUsage, InferenceService inference) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var cancellationToken = httpContext.RequestAborted;
        await using var owned = run;
        var writer = new SseWriter(httpContext.Response);
        var usage = new CompletionUsage();
        try
        {
            await writer.StartAsync(cancellationToken);
            ApiError? failure = null;
            await writer.WriteEachAsync(
                run.ReadAllAsync(cancellationToken),
                item =>
                {
                    usage.Add(item);
                    if (item is CompletionFailed failed)
                    {
                        failure = failed.Error;
                    }
                    else if (Chunk(item) is { } chunk)
                    {
                        writer.WriteEvent(chunk, OpenAiJsonContext.Default.CompletionResponse);
                    }
                },
                cancellationToken);

            if (failure is not null)
            {
                Log.StreamFailed(inference.Logger, run.ModelId, failure.Code ?? "error");
                await writer.WriteEventAsync(failure.ToWire(), OpenAiJsonContext.Default.ErrorResponse, cancellationToken);
            }
            else if (includeUsage)
            {
                await writer.WriteEventAsync(new CompletionResponse(id, created, model, [], usage.ToUsage()), OpenAiJsonContext.Default.CompletionResponse, cancellationToken);
            }

            await writer.WriteDoneAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client left: disposing the run (await using) removes every choice's sequence from the batch.
            Log.ClientDisconnected(inference.Logger, run.ModelId);
        }
        catch (Exception ex) when (httpContext.Response.HasStarted && !cancellationToken.IsCancellationRequested)
        {
            Log.StreamException(inference.Logger, run.ModelId, ex);
            try
            {
                await writer.WriteEventAsync(ApiErrors.Internal().ToWire(), OpenAiJsonContext.Default.ErrorResponse, cancellationToken);
                await writer.WriteDoneAsync(cancellationToken);
            }
            catch (Exception writeFailure) when (writeFailure is IOException or OperationCanceledException or InvalidOperationException)
            {
                httpContext.Abort();
            }
        }
    }

    /// <summary>The chunk one event becomes (null for none: a failure is written after the others stop).</summary>
    private CompletionResponse? Chunk(CompletionEvent item) => item switch
    {
        CompletionEchoed echoed => Chunk(
            item.Job, item.Job.Echo, null, echoed.Scores is null ? null : LogProbs.ForCompletion([], 0, echoed.Scores, item.Job.Echo)),
        CompletionText text => Chunk(item.Job, text.Delta.Text, null, LogProbs.ForCompletion(text.Delta.LogProbs, item.Job.Echo.Length)),
        CompletionFinished finished => Chunk(item.Job, string.Empty, RunningGeneration.FinishReasonText(finished.Outcome.FinishReason)),
        _ => null,
    };

    private CompletionResponse Chunk(CompletionJob job, string text, string? finishReason, CompletionLogProbs? logProbs = null) =>
        new(id, created, model, [new CompletionChoice(job.Index, text, finishReason, logProbs)]);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1303, Level = LogLevel.Information, Message = "Client disconnected from the completions stream of {ModelId}; its generations cancelled")]
        public static partial void ClientDisconnected(ILogger logger, string modelId);

        [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "A completion on {ModelId} failed after the stream started: {Code}")]
        public static partial void StreamFailed(ILogger logger, string modelId, string code);

        [LoggerMessage(EventId = 1305, Level = LogLevel.Error, Message = "Completions stream of {ModelId} failed with an exception; error event sent")]
        public static partial void StreamException(ILogger logger, string modelId, Exception exception);
    }
}
