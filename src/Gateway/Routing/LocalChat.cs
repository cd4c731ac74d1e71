using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.Lora;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;

namespace InferenceMesh.Gateway.Routing;

/// <summary>The local step of a plan: the in-process engine, streamed or not (the gateway's original chat path).</summary>
internal static class LocalChat
{
    /// <param name="streamTrailer">For a stream: bytes written before [DONE] from the final usage (a mesh receipt); null for none.</param>
    public static async Task<IResult> RunAsync(
        InferenceService inference, string model, ChatExecution chat, CancellationToken cancellationToken, Func<Usage, ReadOnlyMemory<byte>>? streamTrailer = null)
    {
        if (LocalFeatures.RefuseUnsupported(chat.Request) is { } unsupported) return unsupported; // before a slot is taken

        var resolved = await inference.ResolveWithAdaptersAsync(model, LoraRequests.FieldOf(chat.Request.Extensions), cancellationToken);
        if (resolved.Error is { } modelError) return modelError;
        var (loaded, adapters) = resolved.Value;

        var prompt = loaded.ApplyChatTemplate(chat.Messages);
        if (!prompt.Succeeded) return inference.Map(prompt.Failure!, "messages");

        var settings = chat.Settings;
        var request = settings.ToRequest(prompt.Value!);
        var grammar = LocalFeatures.ResponseGrammar(chat.Request).Value; // checked above
        var started = await inference.StartAsync(
            loaded,
            request with { Adapters = adapters, Sampling = request.Sampling with { Grammar = grammar }, TopLogProbs = LogProbs.Requested(chat.Request).Value },
            "messages",
            cancellationToken);
        if (started.Error is { } startError) return startError;

        var id = InferenceService.NewId("chatcmpl-");
        var created = inference.Time.GetUtcNow().ToUnixTimeSeconds();
        if (settings.Stream)
        {
            return new GenerationStreamResult(started.Value!, new ChatStreamFormat(id, created, loaded.Id), settings.IncludeUsage, "messages", inference, chat.Capture, streamTrailer);
        }

        await using var generation = started.Value!;
        var (text, logProbs, outcome) = await generation.CollectAsync(cancellationToken);
        if (outcome.Failure is { } failure) return inference.Map(failure, "messages");
        var finishReason = RunningGeneration.FinishReasonText(outcome.FinishReason);
        chat.Capture?.CompleteWith(text, finishReason);

        return new JsonOk<ChatCompletionResponse>(
            new ChatCompletionResponse(
                id, created, loaded.Id,
                [new ChatChoice(0, new AssistantMessage(text), finishReason, LogProbs.ForChat(logProbs))],
                Usage.Of(outcome.PromptTokens, outcome.CompletionTokens)),
            OpenAiJsonContext.Default.ChatCompletionResponse);
    }
}
