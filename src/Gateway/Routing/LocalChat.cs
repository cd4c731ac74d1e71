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
        var settings = chat.Settings;
        if (chat.DropOldestToFit)
        {
            // The engine's own check (the prompt plus one token fits the slot), made with its tokeniser before it is asked.
            var tokens = settings.ToRequest(string.Empty);
            messages = Responses.InputTruncation.Fit(messages, kept =>
                Template(loaded, kept, tools) is { Succeeded: true } candidate
                && loaded.Tokenize(candidate.Value!, tokens.AddSpecialTokens, tokens.ParseSpecialTokens).Length < loaded.SlotContextLength);
        }

        var prompt = Template(loaded, messages, tools);
        if (!prompt.Succeeded) return inference.Map(prompt.Failure!, "messages");

        var request = settings.ToRequest(prompt.Value!);
        // With tools, the stop strings end the answer's text only, never the envelope or a call: the reader matches them.
        request = request with
        {
            Adapters = adapters, Sampling = request.Sampling with { Grammar = tools?.Grammar ?? grammar }, TopLogProbs = LogProbs.Requested(chat.Request).Value,
            Stop = tools is null ? request.Stop : [],
        };
        var id = InferenceService.NewId("chatcmpl-");
        var created = inference.Time.GetUtcNow().ToUnixTimeSeconds();
        if (settings.Choices > 1)
        {
            return await LocalChatChoices.RunAsync(inference, loaded, request, tools is null ? null : settings.Stop, settings, (id, created), streamTrailer, cancellationToken);
        }

        var started = await inference.StartAsync(loaded, request, "messages", cancellationToken);
        if (started.Error is { } startError) return startError;

        if (settings.Stream)
        {
            var chunks = new ChatStreamFormat(id, created, loaded.Id, settings.IncludeUsage);
            IStreamFormat format = tools is null ? chunks : new ToolCallStreamFormat(chunks, chat.Capture, settings.Stop);
            return new GenerationStreamResult(started.Value!, format, "messages", inference, chat.Capture, streamTrailer);
        }

        await using var generation = started.Value!;
        // Read as a stream reads it, so a cut answer is what a stream would have sent, and a stop string in the answer's text ends it.
        var reader = tools is null ? null : new ToolEnvelopeReader(settings.Stop);
        var (text, logProbs, outcome) = await generation.CollectAsync(cancellationToken, reader is null ? null : piece =>
        {
            reader.Append(piece);
            return reader.Stopped;
        });
        if (outcome.Failure is { } failure) return inference.Map(failure, "messages");
        var choice = Choice(0, text, logProbs, outcome.FinishReason, reader);

        // What the client gets is what a conversation keeps: the calls (with their ids), not the model's JSON.
        chat.Capture?.AddToolCalls(choice.Message.ToolCalls);
        chat.Capture?.CompleteWith(choice.Message.Content ?? string.Empty, choice.FinishReason);

        return new JsonOk<ChatCompletionResponse>(
            new ChatCompletionResponse(id, created, loaded.Id, [choice], Usage.Of(outcome.PromptTokens, outcome.CompletionTokens)),
            OpenAiJsonContext.Default.ChatCompletionResponse);
    }

    /// <summary>
    /// One choice of a non-streamed answer: the model's text, or with <paramref name="toolStops"/> (tools) the tool envelope
    /// read as a stream reads it (so a cut answer is what a stream would have sent): its text up to the first of the stop
    /// strings, or its calls with fresh ids.
    /// </summary>
    internal static ChatChoice Choice(int index, string text, IReadOnlyList<TokenLogProb>? logProbs, FinishReason reason, IReadOnlyList<string>? toolStops)
    {
        ToolEnvelopeReader? reader = null;
        if (toolStops is not null)
        {
            reader = new ToolEnvelopeReader(toolStops);
            reader.Append(text);
        }

        return Choice(index, text, logProbs, reason, reader);
    }

    /// <summary>One choice from the model's text and, for tools, the reader that has read all of it.</summary>
    private static ChatChoice Choice(int index, string text, IReadOnlyList<TokenLogProb>? logProbs, FinishReason reason, ToolEnvelopeReader? reader)
    {
        var finishReason = RunningGeneration.FinishReasonText(reason);
        var message = new AssistantMessage(text);
        if (reader is not null)
        {
            reader.Finish();
            var answer = reader.Answer();
            finishReason = answer.FinishReason(reason);
            message = answer.Calls is { Count: > 0 } calls
                ? new AssistantMessage(null, ToolCallStreamFormat.Calls(calls))
                : new AssistantMessage(answer.Content);
        }

        return new ChatChoice(index, message, finishReason, LogProbs.ForChat(logProbs));
    }

    /// <summary>
    /// The prompt the local model is given for a chat request (also <c>POST /apply-template</c>'s answer): an assistant's
    /// earlier tool calls written into its message, the tools' instructions in the system message, then the model's chat
    /// template (or the engine's fallback).
    /// </summary>
    public static EngineResult<string> Prompt(ILoadedModel model, IReadOnlyList<ChatMessage> messages, List<ChatMessageWire?>? wire, LocalTools.Plan? tools)
        => Template(model, LocalTools.WithEarlierCalls(messages, wire), tools);

    /// <summary>The tools' instructions added to messages that already carry the earlier calls, then the template.</summary>
    private static EngineResult<string> Template(ILoadedModel model, IReadOnlyList<ChatMessage> withCalls, LocalTools.Plan? tools) =>
        model.ApplyChatTemplate(tools is null ? withCalls : WithInstructions(withCalls, tools.Instructions));

    /// <summary>The tools' instructions after the system message (or as the first message when there is none).</summary>
    private static IReadOnlyList<ChatMessage> WithInstructions(IReadOnlyList<ChatMessage> messages, string instructions) =>
        messages.Count > 0 && messages[0].Role == "system"
            ? [messages[0] with { Content = messages[0].Content + "\n\n" + instructions }, .. messages.Skip(1)]
            : [new ChatMessage("system", instructions), .. messages];
}

/// <summary>
/// A stream of a tool-call answer, passed on as it is generated (<see cref="ToolEnvelopeReader"/>): the role chunk at
/// once, then the response's text as content deltas, or each call as OpenAI streams one (a delta with its
/// <c>index</c>, id, type and name and empty arguments, then <c>arguments</c> fragments: the model's JSON text as it
/// comes), and finish_reason <c>tool_calls</c> once the envelope closes. A cut answer (max_tokens) keeps what was sent
/// and finishes with <c>length</c>; a stop string in the response's text ends it there (<c>stop</c>), and never applies
/// to the envelope or a call. The envelope itself never reaches the client.
/// </summary>
/// <remarks><paramref name="capture"/>, when given, is left with the answer as the client got it (its text or its calls), not the model's JSON.</remarks>
internal sealed class ToolCallStreamFormat(ChatStreamFormat chat, Context.ChatAnswerCapture? capture = null, IReadOnlyList<string>? stops = null) : IStreamFormat
{
    private readonly ToolEnvelopeReader _reader = new(stops);
    private readonly List<ToolEnvelopeEvent> _events = [];
    private readonly List<string> _ids = [];

    public string? FinishReasonSent { get; private set; }

    public Task WriteStartAsync(SseWriter writer, CancellationToken cancellationToken) => chat.WriteStartAsync(writer, cancellationToken);

    public bool AnswerEnded => _reader.Stopped;

    public void WriteText(SseWriter writer, GenerationDelta delta)
    {
        _events.Clear();
        _reader.Append(delta.Text, _events);
        WriteEvents(writer);
    }

    private void WriteEvents(SseWriter writer)
    {
        foreach (var (kind, index, text) in _events)
        {
            switch (kind)
            {
                case ToolEnvelopeEventKind.Content:
                    chat.WriteDelta(writer, new ChatDelta(Content: text));
                    break;
                case ToolEnvelopeEventKind.CallStarted:
                    _ids.Add(InferenceService.NewId("call_"));
                    chat.WriteDelta(writer, new ChatDelta(ToolCalls: [new ChatToolCall(index, _ids[index], "function", new ChatFunctionCall(text, string.Empty))]));
                    break;
                case ToolEnvelopeEventKind.Arguments:
                    chat.WriteDelta(writer, new ChatDelta(ToolCalls: [new ChatToolCall(index, null, null, new ChatFunctionCall(null, text))]));
                    break;
            }
        }
    }

    public Task WriteFinishAsync(SseWriter writer, FinishReason finishReason, Usage usage, CancellationToken cancellationToken)
    {
        FinishReasonSent = WriteRest(writer, finishReason, out var answer);
        capture?.Reset(answer.Content ?? string.Empty);
        capture?.AddToolCalls([.. (answer.Calls ?? []).Select((call, i) => new ChatToolCall(i, _ids[i], "function", new ChatFunctionCall(call.Name, call.Arguments)))]);
        return chat.WriteFinishAsync(writer, FinishReasonSent, usage, cancellationToken);
    }

    /// <summary>Buffers what is left to send once the generation ended (a text that was never an envelope); returns the choice's finish reason.</summary>
    public string WriteRest(SseWriter writer, FinishReason finishReason) => WriteRest(writer, finishReason, out _);

    private string WriteRest(SseWriter writer, FinishReason finishReason, out LocalTools.Answer answer)
    {
        _events.Clear();
        _reader.Finish(_events); // text held back in case it began a stop string, in an answer cut before its text closed
        WriteEvents(writer);
        answer = _reader.Answer();
        if (!_reader.HasOutput && answer.Content is { Length: > 0 } asItIs)
        {
            chat.WriteDelta(writer, new ChatDelta(Content: asItIs)); // not an envelope at all (never expected): the text as it is
        }

        return answer.FinishReason(finishReason);
    }

    public Task WriteErrorAsync(SseWriter writer, ApiError error, CancellationToken cancellationToken) => chat.WriteErrorAsync(writer, error, cancellationToken);

    public Task WriteEndAsync(SseWriter writer, CancellationToken cancellationToken) => chat.WriteEndAsync(writer, cancellationToken);

    /// <summary>The calls of a message in OpenAI's shape, each with a fresh id.</summary>
    public static IReadOnlyList<ChatToolCall> Calls(IReadOnlyList<(string Name, string Arguments)> calls) =>
        [.. calls.Select(call => new ChatToolCall(null, InferenceService.NewId("call_"), "function", new ChatFunctionCall(call.Name, call.Arguments)))];
}
