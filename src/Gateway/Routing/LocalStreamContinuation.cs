using System.Runtime.CompilerServices;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;
using InferenceMesh.Router.Configuration;

namespace InferenceMesh.Gateway.Routing;

/// <summary>
/// Finishes a remote stream that broke after the client got part of it: the local model continues the same
/// answer (prompt = the chat template applied to the messages, then the partial assistant text; models without
/// a template get the engine's fallback), in the same chunk shape with the same id, created and model, then
/// [DONE]. When no local model may serve (<paramref name="localModel"/> null), the request asks for more than one choice
/// (<c>n</c>), asks for what it cannot honour (<see cref="LocalFeatures"/>: tools, JSON output) or it cannot start, a clean
/// error event and [DONE] end the stream instead.
/// </summary>
internal sealed partial class LocalStreamContinuation(InferenceService inference, string? localModel, ChatExecution chat, ILogger logger) : IStreamContinuation
{
    public async IAsyncEnumerable<ReadOnlyMemory<byte>> ContinueAsync(StreamBreak streamBreak, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (streamBreak.FinishSeen)
        {
            // The answer was complete; only the end marker was lost.
            yield return SseEvents.Done;
            chat.Capture?.CompleteWith(streamBreak.PartialText, null, streamBreak.Backend);
            yield break;
        }

        if (chat.Settings.Choices > 1)
        {
            // n choices cut at different places cannot be finished coherently by one local generation (nor n of them with
            // the upstream's sampling): the stream ends cleanly, the choices sent so far stay as they are.
            Log.NotContinued(logger, streamBreak.Backend);
            yield return ErrorEvent(Interrupted($"The backend stopped in the middle of the answer; {chat.Settings.Choices} choices ('n') cannot be continued on the local model."));
            yield return SseEvents.Done;
            yield break;
        }

        if (localModel is null)
        {
            Log.NotContinued(logger, streamBreak.Backend);
            yield return ErrorEvent(Interrupted("The backend stopped in the middle of the answer and no local model may continue it."));
            yield return SseEvents.Done;
            yield break;
        }

        if (LocalFeatures.RefuseContinuation(chat.Request) is { } unsupported)
        {
            // A tool call or a JSON answer continued as free text would change what the answer means.
            Log.ContinuationRefused(logger, streamBreak.Backend, localModel, unsupported.Code);
            yield return ErrorEvent(Interrupted(
                $"The backend stopped in the middle of the answer and the local model cannot continue it: it does not support '{unsupported.Param}'."));
            yield return SseEvents.Done;
            yield break;
        }

        var (generation, partialTokens, error) = await StartAsync(localModel, streamBreak.PartialText, cancellationToken);
        if (error is not null)
        {
            Log.ContinuationRefused(logger, streamBreak.Backend, localModel, error.Code);
            yield return ErrorEvent(error);
            yield return SseEvents.Done;
            yield break;
        }

        Log.Continuing(logger, streamBreak.Backend, localModel);
        var model = streamBreak.Model.Length > 0 ? streamBreak.Model : localModel;
        await using (generation)
        {
            // The captured answer is the remote part, then the local one; recorded as "<backend>+local".
            var capture = chat.Capture;
            var answeredBy = streamBreak.Backend + "+" + RouterDefaults.LocalBackendName;
            capture?.Reset(streamBreak.PartialText);
            if (generation is null)
            {
                // Nothing left of max_tokens: the answer ends here.
                yield return Chunk(streamBreak, model, new ChatDelta(), "length");
                yield return SseEvents.Done;
                capture?.Complete("length", answeredBy);
                yield break;
            }

            await foreach (var delta in generation.ReadAsync(cancellationToken))
            {
                yield return Chunk(streamBreak, model, new ChatDelta(Content: delta.Text), null, LogProbs.ForChat(delta.LogProbs));
                capture?.Append(delta.Text);
            }

            var outcome = await generation.CompleteAsync();
            if (outcome.Failure is { } failure)
            {
                yield return ErrorEvent(inference.Map(failure, "messages"));
                yield return SseEvents.Done;
                yield break;
            }

            var finishReason = RunningGeneration.FinishReasonText(outcome.FinishReason);
            yield return Chunk(streamBreak, model, new ChatDelta(), finishReason);
            if (chat.Settings.IncludeUsage)
            {
                // The remote part's tokens are counted with the local vocabulary: an estimate.
                var usage = Usage.Of(outcome.PromptTokens - partialTokens, partialTokens + outcome.CompletionTokens);
                yield return SseEvents.Encode(new ChatCompletionChunk(streamBreak.Id, streamBreak.Created, model, [], usage), OpenAiJsonContext.Default.ChatCompletionChunk);
            }

            yield return SseEvents.Done;
            capture?.Complete(finishReason, answeredBy); // runs when the consumer asks past [DONE]: after it was written
        }
    }

    private async Task<(RunningGeneration? Generation, int PartialTokens, ApiError? Error)> StartAsync(string model, string partial, CancellationToken cancellationToken)
    {
        var resolved = await inference.ResolveModelAsync(model, cancellationToken);
        if (resolved.Error is { } modelError) return (null, 0, modelError);
        var loaded = resolved.Value!;

        var prompt = loaded.ApplyChatTemplate(chat.Messages);
        if (!prompt.Succeeded) return (null, 0, inference.Map(prompt.Failure!, "messages"));

        var partialTokens = partial.Length == 0 ? 0 : loaded.Tokenize(partial, addSpecial: false, parseSpecial: false).Length;
        // Log probabilities, when asked for, go on for the tokens the local model adds (the remote part's were sent).
        var request = chat.Settings.ToRequest(prompt.Value! + partial) with { TopLogProbs = LogProbs.Requested(chat.Request).Value };
        if (request.MaxTokens is { } max)
        {
            if (max - partialTokens < 1)
            {
                return (null, partialTokens, null);
            }

            request = request with { MaxTokens = max - partialTokens };
        }

        var started = await inference.StartAsync(loaded, request, "messages", cancellationToken);
        return started.Error is { } startError ? (null, partialTokens, startError) : (started.Value, partialTokens, null);
    }

    private static ReadOnlyMemory<byte> Chunk(StreamBreak streamBreak, string model, ChatDelta delta, string? finishReason, ChatLogProbs? logProbs = null) =>
        SseEvents.Encode(
            new ChatCompletionChunk(streamBreak.Id, streamBreak.Created, model, [new ChatChunkChoice(0, delta, finishReason, logProbs)]),
            OpenAiJsonContext.Default.ChatCompletionChunk);

    private static ReadOnlyMemory<byte> ErrorEvent(ApiError error) => SseEvents.Encode(error.ToWire(), OpenAiJsonContext.Default.ErrorResponse);

    private static ApiError Interrupted(string message) =>
        new(StatusCodes.Status502BadGateway, message, ApiError.ServerError, null, "stream_interrupted");

    private static partial class Log
    {
        [LoggerMessage(EventId = 1700, Level = LogLevel.Warning, Message = "Stream from {Backend} broke after the first byte; continuing on the local model {Model}")]
        public static partial void Continuing(ILogger logger, string backend, string model);

        [LoggerMessage(EventId = 1701, Level = LogLevel.Warning, Message = "Stream from {Backend} broke after the first byte; no local model may continue it, error event sent")]
        public static partial void NotContinued(ILogger logger, string backend);

        [LoggerMessage(EventId = 1702, Level = LogLevel.Warning, Message = "Stream from {Backend} broke; the local model {Model} could not continue it ({Code}), error event sent")]
        public static partial void ContinuationRefused(ILogger logger, string backend, string model, string? code);
    }
}
