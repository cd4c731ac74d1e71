using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Streaming;

/// <summary>How the events of a <see cref="CompletionRun"/> become chunks: completions' or chat's.</summary>
internal interface IChoiceStreamFormat
{
    /// <summary>Buffers the first events, before any choice's text (chat: each choice's assistant role), or nothing.</summary>
    void WriteStart(SseWriter writer);

    /// <summary>Buffers the chunk(s) of one choice's event (its echo, text or finish). A failure is written by the result.</summary>
    void Write(SseWriter writer, CompletionEvent item);

    /// <summary>Buffers the one chunk with the usage of all choices (<c>choices: []</c>).</summary>
    void WriteUsage(SseWriter writer, Usage usage);
}

/// <summary>
/// Streams the choices of a run as OpenAI does (a completions batch × n, or n choices of one chat prompt): chunks of all
/// choices interleaved as they are generated, each carrying its choice's <c>index</c>; per choice its text, then a chunk
/// with its own finish reason; the usage of all choices in one chunk when <c>stream_options.include_usage</c> asked for
/// it; one <c>[DONE]</c>. A failure after the first byte is an error event, then <c>[DONE]</c>. Owns the run: the client
/// leaving cancels every choice and frees its slot.
/// </summary>
/// <remarks><paramref name="trailer"/>, when given, gets the usage of a stream that finished and returns bytes written just before [DONE] (a mesh receipt as an SSE comment).</remarks>
internal sealed partial class ChoiceStreamResult(
    CompletionRun run, IChoiceStreamFormat format, bool includeUsage, InferenceService inference, Func<Usage, ReadOnlyMemory<byte>>? trailer = null) : IResult
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
            format.WriteStart(writer);
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
                    else
                    {
                        format.Write(writer, item);
                    }
                },
                cancellationToken);

            if (failure is not null)
            {
                Log.StreamFailed(inference.Logger, run.ModelId, failure.Code ?? "error");
                await writer.WriteEventAsync(failure.ToWire(), OpenAiJsonContext.Default.ErrorResponse, cancellationToken);
            }
            else
            {
                if (includeUsage)
                {
                    format.WriteUsage(writer, usage.ToUsage());
                }

                if (trailer is not null)
                {
                    writer.WriteRaw(trailer(usage.ToUsage()).Span);
                }
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
            await SseWriter.EndAfterFailureAsync(httpContext, async () =>
            {
                await writer.WriteEventAsync(ApiErrors.Internal().ToWire(), OpenAiJsonContext.Default.ErrorResponse, cancellationToken);
                await writer.WriteDoneAsync(cancellationToken);
            });
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1303, Level = LogLevel.Information, Message = "Client disconnected from the choices stream of {ModelId}; its generations cancelled")]
        public static partial void ClientDisconnected(ILogger logger, string modelId);

        [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "A choice on {ModelId} failed after the stream started: {Code}")]
        public static partial void StreamFailed(ILogger logger, string modelId, string code);

        [LoggerMessage(EventId = 1305, Level = LogLevel.Error, Message = "Choices stream of {ModelId} failed with an exception; error event sent")]
        public static partial void StreamException(ILogger logger, string modelId, Exception exception);
    }
}

/// <summary>
/// <c>text_completion</c> chunks of a completions request (one prompt or a batch, × n): per choice first its echoed prompt
/// (with the prompt's log probabilities when asked for), then its text, then a chunk with its finish reason.
/// </summary>
internal sealed class CompletionChoiceStreamFormat(string id, long created, string model) : IChoiceStreamFormat
{
    public void WriteStart(SseWriter writer)
    {
    }

    public void Write(SseWriter writer, CompletionEvent item)
    {
        if (Chunk(item) is { } chunk)
        {
            writer.WriteEvent(chunk, OpenAiJsonContext.Default.CompletionResponse);
        }
    }

    public void WriteUsage(SseWriter writer, Usage usage) =>
        writer.WriteEvent(new CompletionResponse(id, created, model, [], usage), OpenAiJsonContext.Default.CompletionResponse);

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
}
