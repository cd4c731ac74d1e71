using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
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
        var toolPlan = LocalTools.For(chat.Request); // the tools' grammar is built once, here
        if ((toolPlan.Error ?? LocalFeatures.RefuseUnsupportedBesideTools(chat.Request)) is { } unsupported) return unsupported; // before a slot is taken
        var tools = toolPlan.Value;
        var grammar = LocalFeatures.ResponseGrammar(chat.Request).Value; // checked above
        if (tools is not null && grammar is not null)
        {
            return ApiErrors.UnsupportedParameter("response_format", "The local model cannot keep a JSON 'response_format' and 'tools' at once: tool answers have their own JSON shape.");
        }

        if (tools is not null && LogProbs.Requested(chat.Request).Value is not null)
        {
            // Its tokens are the tool envelope's JSON, not the text or the calls the client gets.
            return ApiErrors.UnsupportedParameter("logprobs", "The local model gives no log probabilities with 'tools': its tokens write the tool-call envelope, not the answer you get.");
        }


        var resolved = await inference.ResolveWithAdaptersAsync(model, LoraRequests.FieldOf(chat.Request.Extensions), cancellationToken);
        if (resolved.Error is { } modelError) return modelError;
        var (loaded, adapters) = resolved.Value;

        var messages = LocalTools.WithEarlierCalls(chat.Messages, chat.Request.Messages);
        var prompt = loaded.ApplyChatTemplate(tools is null ? messages : WithInstructions(messages, tools.Instructions));
        if (!prompt.Succeeded) return inference.Map(prompt.Failure!, "messages");

        var settings = chat.Settings;
        var request = settings.ToRequest(prompt.Value!);
        var started = await inference.StartAsync(
            loaded,
            request with { Adapters = adapters, Sampling = request.Sampling with { Grammar = tools?.Grammar ?? grammar }, TopLogProbs = LogProbs.Requested(chat.Request).Value },
            "messages",
            cancellationToken);
        if (started.Error is { } startError) return startError;

        var id = InferenceService.NewId("chatcmpl-");
        var created = inference.Time.GetUtcNow().ToUnixTimeSeconds();
        if (settings.Stream)
        {
            var chunks = new ChatStreamFormat(id, created, loaded.Id, settings.IncludeUsage);
            IStreamFormat format = tools is null ? chunks : new ToolCallStreamFormat(chunks, chat.Capture);
            return new GenerationStreamResult(started.Value!, format, "messages", inference, chat.Capture, streamTrailer);
        }

        await using var generation = started.Value!;
        var (text, logProbs, outcome) = await generation.CollectAsync(cancellationToken);
        if (outcome.Failure is { } failure) return inference.Map(failure, "messages");
        var finishReason = RunningGeneration.FinishReasonText(outcome.FinishReason);
        var message = new AssistantMessage(text);
        if (tools is not null && LocalTools.Read(text) is var answer)
        {
            (message, finishReason) = answer.Calls is { } calls
                ? (new AssistantMessage(null, ToolCallStreamFormat.Calls(calls, withIndex: false)), "tool_calls")
                : (new AssistantMessage(answer.Content), finishReason);
        }

        // What the client gets is what a conversation keeps: the calls (with their ids), not the model's JSON.
        chat.Capture?.AddToolCalls(message.ToolCalls);
        chat.Capture?.CompleteWith(message.Content ?? string.Empty, finishReason);

        return new JsonOk<ChatCompletionResponse>(
            new ChatCompletionResponse(
                id, created, loaded.Id,
                [new ChatChoice(0, message, finishReason, LogProbs.ForChat(logProbs))],
                Usage.Of(outcome.PromptTokens, outcome.CompletionTokens)),
            OpenAiJsonContext.Default.ChatCompletionResponse);
    }

    /// <summary>The tools' instructions after the system message (or as the first message when there is none).</summary>
    private static IReadOnlyList<ChatMessage> WithInstructions(IReadOnlyList<ChatMessage> messages, string instructions) =>
        messages.Count > 0 && messages[0].Role == "system"
            ? [messages[0] with { Content = messages[0].Content + "\n\n" + instructions }, .. messages.Skip(1)]
            : [new ChatMessage("system", instructions), .. messages];
}

/// <summary>
/// A stream of a tool-call answer: the role chunk at once, then, once the answer is complete (it is one JSON object
/// the client never sees), either its text as one content chunk or its calls as <c>tool_calls</c> deltas, and
/// finish_reason <c>tool_calls</c>. A cut answer (max_tokens) goes out as the text it is.
/// </summary>
/// <remarks><paramref name="capture"/>, when given, is left with the answer as the client got it (its text or its calls), not the model's JSON.</remarks>
internal sealed class ToolCallStreamFormat(ChatStreamFormat chat, Context.ChatAnswerCapture? capture = null) : IStreamFormat
{
    private readonly System.Text.StringBuilder _answer = new();

    public Task WriteStartAsync(SseWriter writer, CancellationToken cancellationToken) => chat.WriteStartAsync(writer, cancellationToken);

    public void WriteText(SseWriter writer, GenerationDelta delta) => _answer.Append(delta.Text);

    public Task WriteFinishAsync(SseWriter writer, FinishReason finishReason, Usage usage, CancellationToken cancellationToken)
    {
        var answer = LocalTools.Read(_answer.ToString());
        capture?.Reset(answer.Content ?? string.Empty);
        if (answer.Calls is { } calls)
        {
            var toolCalls = Calls(calls, withIndex: true);
            capture?.AddToolCalls(toolCalls);
            chat.WriteDelta(writer, new ChatDelta(ToolCalls: toolCalls));
            return chat.WriteFinishAsync(writer, "tool_calls", usage, cancellationToken);
        }

        if (answer.Content is { Length: > 0 } content)
        {
            chat.WriteDelta(writer, new ChatDelta(Content: content));
        }

        return chat.WriteFinishAsync(writer, finishReason, usage, cancellationToken);
    }

    public Task WriteErrorAsync(SseWriter writer, ApiError error, CancellationToken cancellationToken) => chat.WriteErrorAsync(writer, error, cancellationToken);

    public Task WriteEndAsync(SseWriter writer, CancellationToken cancellationToken) => chat.WriteEndAsync(writer, cancellationToken);

    /// <summary>The calls in OpenAI's shape, each with a fresh id (and its index, in a stream delta).</summary>
    public static IReadOnlyList<ChatToolCall> Calls(IReadOnlyList<(string Name, string Arguments)> calls, bool withIndex) =>
        calls.Select((call, i) => new ChatToolCall(withIndex ? i : null, InferenceService.NewId("call_"), "function", new ChatFunctionCall(call.Name, call.Arguments))).ToList();
}
