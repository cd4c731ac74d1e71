using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Streaming;

/// <summary>How one endpoint shapes its stream's events (chat chunks, completion chunks, Responses events).</summary>
internal interface IStreamFormat
{
    /// <summary>The first events (chat: the assistant role; Responses: the response created, its message begun), or nothing.</summary>
    Task WriteStartAsync(SseWriter writer, CancellationToken cancellationToken);

    /// <summary>Buffers one text event (with its tokens' log probabilities when asked for); the caller flushes.</summary>
    void WriteText(SseWriter writer, GenerationDelta delta);

    /// <summary>The events after the text of a generation that finished (the finish reason, the usage when asked for).</summary>
    Task WriteFinishAsync(SseWriter writer, FinishReason finishReason, Usage usage, CancellationToken cancellationToken);

    /// <summary>The events a failure after the first byte becomes.</summary>
    Task WriteErrorAsync(SseWriter writer, ApiError error, CancellationToken cancellationToken);

    /// <summary>The stream's last frame, after its finish or its error ([DONE], or nothing).</summary>
    Task WriteEndAsync(SseWriter writer, CancellationToken cancellationToken);

    /// <summary>The finish reason the finish events gave when it is not the generation's own (chat's <c>tool_calls</c>), else null.</summary>
    string? FinishReasonSent => null;

    /// <summary>True once the text given to <see cref="WriteText"/> ended the answer (a stop string the format matches itself): the generation is stopped.</summary>
    bool AnswerEnded => false;
}

/// <summary>
/// Streams a started generation as SSE. Owns the generation: the client leaving (RequestAborted) cancels
/// it, and it is disposed on every path, so its slot is freed. A failure after the first byte becomes the
/// format's error events followed by its end ([DONE] for chat and completions).
/// </summary>
/// <remarks><paramref name="trailer"/>, when given, gets the usage of a stream that finished and returns bytes written just before [DONE] (a mesh receipt as an SSE comment).</remarks>
internal sealed partial class GenerationStreamResult(
    RunningGeneration generation, IStreamFormat format, string promptParam, InferenceService inference,
    Context.ChatAnswerCapture? capture = null, Func<Usage, ReadOnlyMemory<byte>>? trailer = null) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var cancellationToken = httpContext.RequestAborted;
        await using var owned = generation;
        var writer = new SseWriter(httpContext.Response);
        try
        {
            await writer.StartAsync(cancellationToken);
            await format.WriteStartAsync(writer, cancellationToken);
            await writer.WriteEachAsync(
                generation.ReadAsync(cancellationToken),
                delta =>
                {
                    format.WriteText(writer, delta);
                    capture?.Append(delta.Text);
                    if (format.AnswerEnded)
                    {
                        generation.RequestStop();
                    }
                },
                cancellationToken);

            var outcome = await generation.CompleteAsync();
            if (outcome.Failure is { } failure)
            {
                if (failure.Error == EngineError.Cancelled && cancellationToken.IsCancellationRequested)
                {
                    Log.ClientDisconnected(inference.Logger, generation.ModelId);
                    return;
                }

                Log.StreamFailed(inference.Logger, generation.ModelId, failure.Error);
                await format.WriteErrorAsync(writer, inference.Map(failure, promptParam), cancellationToken);
                await format.WriteEndAsync(writer, cancellationToken);
                return;
            }

            var usage = Usage.Of(outcome.PromptTokens, outcome.CompletionTokens);
            await format.WriteFinishAsync(writer, outcome.FinishReason, usage, cancellationToken);
            if (trailer is not null)
            {
                writer.WriteRaw(trailer(usage).Span);
            }

            await format.WriteEndAsync(writer, cancellationToken);
            capture?.Complete(format.FinishReasonSent ?? RunningGeneration.FinishReasonText(outcome.FinishReason));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client left: disposing the generation (await using) removes the sequence from the batch.
            Log.ClientDisconnected(inference.Logger, generation.ModelId);
        }
        catch (Exception ex) when (httpContext.Response.HasStarted && !cancellationToken.IsCancellationRequested)
        {
            Log.StreamException(inference.Logger, generation.ModelId, ex);
            await SseWriter.EndAfterFailureAsync(httpContext, async () =>
            {
                await format.WriteErrorAsync(writer, ApiErrors.Internal(), cancellationToken);
                await format.WriteEndAsync(writer, cancellationToken);
            });
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "Client disconnected from the stream of {ModelId}; generation cancelled")]
        public static partial void ClientDisconnected(ILogger logger, string modelId);

        [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Generation on {ModelId} failed after the stream started: {Error}")]
        public static partial void StreamFailed(ILogger logger, string modelId, EngineError error);

        [LoggerMessage(EventId = 1302, Level = LogLevel.Error, Message = "Stream of {ModelId} failed with an exception; error event sent")]
        public static partial void StreamException(ILogger logger, string modelId, Exception exception);
    }
}

/// <summary>
/// OpenAI's chat chunk stream: a chunk with the finish reason, a usage chunk when
/// <c>stream_options.include_usage</c> asked for one, an error event on a failure, then <c>data: [DONE]</c>.
/// </summary>
internal abstract class ChunkStreamFormat(bool includeUsage) : IStreamFormat
{
    public abstract Task WriteStartAsync(SseWriter writer, CancellationToken cancellationToken);

    public abstract void WriteText(SseWriter writer, GenerationDelta delta);

    public Task WriteFinishAsync(SseWriter writer, FinishReason finishReason, Usage usage, CancellationToken cancellationToken) =>
        WriteFinishAsync(writer, RunningGeneration.FinishReasonText(finishReason), usage, cancellationToken);

    /// <summary>The finish with a reason of the API's own (chat's <c>tool_calls</c>).</summary>
    public async Task WriteFinishAsync(SseWriter writer, string finishReason, Usage usage, CancellationToken cancellationToken)
    {
        await WriteFinishChunkAsync(writer, finishReason, cancellationToken);
        if (includeUsage)
        {
            await WriteUsageChunkAsync(writer, usage, cancellationToken);
        }
    }

    public Task WriteErrorAsync(SseWriter writer, ApiError error, CancellationToken cancellationToken) =>
        writer.WriteEventAsync(error.ToWire(), OpenAiJsonContext.Default.ErrorResponse, cancellationToken);

    public Task WriteEndAsync(SseWriter writer, CancellationToken cancellationToken) => writer.WriteDoneAsync(cancellationToken);

    protected abstract Task WriteFinishChunkAsync(SseWriter writer, string finishReason, CancellationToken cancellationToken);

    protected abstract Task WriteUsageChunkAsync(SseWriter writer, Usage usage, CancellationToken cancellationToken);
}

/// <summary>OpenAI's chat chunks of one choice (<paramref name="index"/>: 0, or its place among n choices).</summary>
internal sealed class ChatStreamFormat(string id, long created, string model, bool includeUsage, int index = 0) : ChunkStreamFormat(includeUsage)
{
    public override Task WriteStartAsync(SseWriter writer, CancellationToken cancellationToken)
    {
        WriteStart(writer);
        return writer.FlushAsync(cancellationToken);
    }

    /// <summary>Buffers the choice's first chunk (the assistant role); the caller flushes.</summary>
    public void WriteStart(SseWriter writer) => WriteDelta(writer, new ChatDelta(Role: "assistant", Content: string.Empty));

    public override void WriteText(SseWriter writer, GenerationDelta delta) =>
        writer.WriteEvent(Chunk(new ChatDelta(Content: delta.Text), null, LogProbs.ForChat(delta.LogProbs)), OpenAiJsonContext.Default.ChatCompletionChunk);

    /// <summary>Buffers one chunk carrying <paramref name="delta"/>; the caller flushes.</summary>
    public void WriteDelta(SseWriter writer, ChatDelta delta) => writer.WriteEvent(Chunk(delta, null), OpenAiJsonContext.Default.ChatCompletionChunk);

    /// <summary>Buffers the choice's finish chunk; the caller flushes.</summary>
    public void WriteFinishChunk(SseWriter writer, string finishReason) =>
        writer.WriteEvent(Chunk(new ChatDelta(), finishReason), OpenAiJsonContext.Default.ChatCompletionChunk);

    /// <summary>Buffers the usage chunk (<c>choices: []</c>); the caller flushes.</summary>
    public void WriteUsageChunk(SseWriter writer, Usage usage) =>
        writer.WriteEvent(new ChatCompletionChunk(id, created, model, [], usage), OpenAiJsonContext.Default.ChatCompletionChunk);

    protected override Task WriteFinishChunkAsync(SseWriter writer, string finishReason, CancellationToken cancellationToken)
    {
        WriteFinishChunk(writer, finishReason);
        return writer.FlushAsync(cancellationToken);
    }

    protected override Task WriteUsageChunkAsync(SseWriter writer, Usage usage, CancellationToken cancellationToken)
    {
        WriteUsageChunk(writer, usage);
        return writer.FlushAsync(cancellationToken);
    }

    private ChatCompletionChunk Chunk(ChatDelta delta, string? finishReason, ChatLogProbs? logProbs = null) =>
        new(id, created, model, [new ChatChunkChoice(index, delta, finishReason, logProbs)]);
}
