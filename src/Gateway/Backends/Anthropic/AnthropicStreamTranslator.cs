using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// Turns Anthropic stream events, in order, into OpenAI chat.completion.chunk values with one id:
/// message_start → a chunk with the assistant role and empty content; each text_delta → a content chunk (a high
/// surrogate that ends one waits for the next, so a pair split across two deltas goes out whole); a tool_use
/// content_block_start → a <c>delta.tool_calls</c> chunk with the call's index (counting tool calls only), id, type,
/// name and empty arguments, then each input_json_delta → a chunk with that index and the arguments fragment (a call
/// whose input never came gets <c>{}</c> when its block stops);
/// message_stop → a chunk with the finish_reason, then (when asked) a usage chunk with no choices.
/// message_delta only records stop_reason and usage, so a stream cut before message_stop never produced a
/// finish chunk. ping, content_block_stop, other blocks and unknown event types produce nothing; other deltas
/// (thinking) are ignored. A tool_use block without id or name, or arguments for a block that is not one, is a
/// malformed stream. Not thread-safe: one per stream.
/// </summary>
public sealed class AnthropicStreamTranslator(string id, long created, string fallbackModel, bool includeUsage)
{
    private readonly StringBuilder _text = new();
    private AnthropicUsage? _startUsage;
    private int? _outputTokens;
    private string? _stopReason;
    private char? _heldHighSurrogate;
    private readonly Dictionary<int, int> _toolCallOfBlock = [];
    private readonly HashSet<int> _toolCallsWithArguments = [];
    private char? _heldArgumentSurrogate;
    private int _heldArgumentToolCall;

    public string Id => id;

    public long Created => created;

    /// <summary>The model named by message_start, else the requested one.</summary>
    public string Model { get; private set; } = fallbackModel;

    /// <summary>All text streamed so far (what the client has been sent, if the executor forwarded every chunk).</summary>
    public string AccumulatedText => _text.ToString();

    /// <summary>message_start was seen.</summary>
    public bool Started { get; private set; }

    /// <summary>A content block started (or a delta came) after message_start: the model is answering.</summary>
    public bool ContentStarted { get; private set; }

    /// <summary>message_stop was seen: the stream is complete.</summary>
    public bool Completed { get; private set; }

    /// <summary>The OpenAI finish_reason, once message_stop was seen.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>Usage so far (input from message_start, output from the last message_delta).</summary>
    public Usage Usage => AnthropicResponseTranslator.MapUsage(_startUsage, _outputTokens);

    /// <summary>Applies one event, appending the chunks it produces. Returns a failure for an error event or an event out of order.</summary>
    public AnthropicFailure? Apply(AnthropicStreamEvent streamEvent, ICollection<ChatCompletionChunk> output)
    {
        if (Completed)
        {
            return null;
        }

        switch (streamEvent.Type)
        {
            case "message_start":
                if (Started || streamEvent.Message is not { } message)
                {
                    return AnthropicErrorMapping.Malformed(Started ? "a second message_start event" : "a message_start event without a message");
                }

                Started = true;
                Model = message.Model ?? Model;
                _startUsage = message.Usage;
                output.Add(Chunk(new ChatDelta(Role: "assistant", Content: string.Empty), null));
                return null;

            case "content_block_start":
                if (!Started) return OutOfOrder(streamEvent.Type);
                ContentStarted = true;
                if (streamEvent.ContentBlock is { Type: AnthropicContentBlock.TextType, Text: { Length: > 0 } initial })
                {
                    AppendText(initial, output);
                }
                else if (streamEvent.ContentBlock is { Type: AnthropicContentBlock.ToolUseType } toolUse)
                {
                    return StartToolCall(streamEvent.Index, toolUse, output);
                }

                return null;

            case "content_block_delta":
                if (!Started) return OutOfOrder(streamEvent.Type);
                ContentStarted = true;
                if (streamEvent.Delta is { Type: "text_delta", Text: { Length: > 0 } text })
                {
                    AppendText(text, output);
                }
                else if (streamEvent.Delta is { Type: "input_json_delta" } arguments)
                {
                    if (streamEvent.Index is not { } block || !_toolCallOfBlock.TryGetValue(block, out var toolCall))
                    {
                        return AnthropicErrorMapping.Malformed("an input_json_delta for a block that is not a tool_use");
                    }

                    if (arguments.PartialJson is { Length: > 0 } fragment)
                    {
                        AppendArguments(toolCall, fragment, output);
                    }
                }

                return null;

            case "content_block_stop":
                if (!Started) return OutOfOrder(streamEvent.Type);
                FlushArguments(output);
                if (streamEvent.Index is { } stopped && _toolCallOfBlock.TryGetValue(stopped, out var finished))
                {
                    CompleteArguments(finished, output);
                }

                return null;

            case "message_delta":
                if (!Started) return OutOfOrder(streamEvent.Type);
                _stopReason = streamEvent.Delta?.StopReason ?? _stopReason;
                _outputTokens = streamEvent.Usage?.OutputTokens ?? _outputTokens;
                return null;

            case "message_stop":
                if (!Started) return OutOfOrder(streamEvent.Type);
                FlushText(output);
                FlushArguments(output);
                foreach (var toolCall in _toolCallOfBlock.Values.Order())
                {
                    CompleteArguments(toolCall, output);
                }

                Completed = true;
                FinishReason = AnthropicResponseTranslator.FinishReason(_stopReason);
                output.Add(Chunk(new ChatDelta(), FinishReason));
                if (includeUsage)
                {
                    output.Add(new ChatCompletionChunk(id, created, Model, [], Usage));
                }

                return null;

            case "error":
                return AnthropicErrorMapping.FromErrorEvent(streamEvent.Error);

            case null:
                return AnthropicErrorMapping.Malformed("an event without a type");

            default:
                // ping, and event types added to the API later.
                return null;
        }
    }

    /// <summary>
    /// One content chunk for <paramref name="text"/>. A high surrogate that ends it is held back for the next text, so a pair
    /// the upstream split across two deltas reaches the client whole (the JSON writer would turn each half into U+FFFD);
    /// <see cref="AccumulatedText"/> holds only what was given out.
    /// </summary>
    private void AppendText(string text, ICollection<ChatCompletionChunk> output) => GiveOut(JoinSurrogates(ref _heldHighSurrogate, text), output);

    private void GiveOut(string text, ICollection<ChatCompletionChunk> output)
    {
        if (text.Length > 0)
        {
            _text.Append(text);
            output.Add(Chunk(new ChatDelta(Content: text), null));
        }
    }

    /// <summary>A held high surrogate whose other half never came: given out as it is (U+FFFD on the wire and where the turn is stored).</summary>
    private void FlushText(ICollection<ChatCompletionChunk> output)
    {
        if (_heldHighSurrogate is { } alone)
        {
            _heldHighSurrogate = null;
            GiveOut(alone.ToString(), output);
        }
    }

    /// <summary>The first chunk of a tool call: its index among the tool calls, id, type, name and empty arguments.</summary>
    private AnthropicFailure? StartToolCall(int? block, AnthropicContentBlock toolUse, ICollection<ChatCompletionChunk> output)
    {
        if (block is not { } index || toolUse is not { Id.Length: > 0, Name.Length: > 0 } || _toolCallOfBlock.ContainsKey(index))
        {
            return AnthropicErrorMapping.Malformed("a tool_use block without an index, an id or a name, or with the index of another block");
        }

        FlushText(output); // a surrogate pair never spans two blocks
        FlushArguments(output);
        var toolCall = _toolCallOfBlock.Count;
        _toolCallOfBlock[index] = toolCall;
        output.Add(ToolCallChunk(new ChatToolCall(toolCall, toolUse.Id, AnthropicResponseTranslator.FunctionType, new ChatFunctionCall(toolUse.Name, string.Empty))));
        if (toolUse.Input is { ValueKind: JsonValueKind.Object } input && input.EnumerateObject().Any())
        {
            // Anthropic starts a tool_use block with an empty input and streams it as deltas; an upstream that sends it whole is not lost.
            AppendArguments(toolCall, input.GetRawText(), output);
        }

        return null;
    }

    /// <summary>One arguments fragment of tool call <paramref name="toolCall"/>, a trailing high surrogate held as for text.</summary>
    private void AppendArguments(int toolCall, string fragment, ICollection<ChatCompletionChunk> output)
    {
        if (_heldArgumentSurrogate is not null && _heldArgumentToolCall != toolCall)
        {
            FlushArguments(output);
        }

        _heldArgumentToolCall = toolCall;
        GiveOutArguments(toolCall, JoinSurrogates(ref _heldArgumentSurrogate, fragment), output);
    }

    private void FlushArguments(ICollection<ChatCompletionChunk> output)
    {
        if (_heldArgumentSurrogate is { } alone)
        {
            _heldArgumentSurrogate = null;
            GiveOutArguments(_heldArgumentToolCall, alone.ToString(), output);
        }
    }

    /// <summary>
    /// A call whose input never came (a tool without parameters: Anthropic streams <c>{}</c> at the start and no delta) gets
    /// <c>{}</c>, as the non-streamed answer does: an empty arguments string is not JSON, and clients parse it.
    /// </summary>
    private void CompleteArguments(int toolCall, ICollection<ChatCompletionChunk> output)
    {
        if (!_toolCallsWithArguments.Contains(toolCall))
        {
            GiveOutArguments(toolCall, "{}", output);
        }
    }

    private void GiveOutArguments(int toolCall, string fragment, ICollection<ChatCompletionChunk> output)
    {
        if (fragment.Length > 0)
        {
            _toolCallsWithArguments.Add(toolCall);
            output.Add(ToolCallChunk(new ChatToolCall(toolCall, null, null, new ChatFunctionCall(null, fragment))));
        }
    }

    /// <summary><paramref name="text"/> after the held high surrogate, if any, without a high surrogate that ends it (then held).</summary>
    private static string JoinSurrogates(ref char? held, string text)
    {
        if (held is { } high)
        {
            text = high + text;
            held = null;
        }

        if (char.IsHighSurrogate(text[^1]))
        {
            held = text[^1];
            text = text[..^1];
        }

        return text;
    }

    private ChatCompletionChunk ToolCallChunk(ChatToolCall toolCall) => Chunk(new ChatDelta(ToolCalls: [toolCall]), null);

    private ChatCompletionChunk Chunk(ChatDelta delta, string? finishReason) =>
        new(id, created, Model, [new ChatChunkChoice(0, delta, finishReason)]);

    private static AnthropicFailure OutOfOrder(string type) => AnthropicErrorMapping.Malformed($"a {type} event before message_start");
}
