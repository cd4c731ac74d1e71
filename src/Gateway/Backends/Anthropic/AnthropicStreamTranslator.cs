using System.Text;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// Turns Anthropic stream events, in order, into OpenAI chat.completion.chunk values with one id:
/// message_start → a chunk with the assistant role and empty content; each text_delta → a content chunk (a high
/// surrogate that ends one waits for the next, so a pair split across two deltas goes out whole);
/// message_stop → a chunk with the finish_reason, then (when asked) a usage chunk with no choices.
/// message_delta only records stop_reason and usage, so a stream cut before message_stop never produced a
/// finish chunk. ping, content_block_start/stop and unknown event types produce nothing; non-text deltas
/// (tools, thinking) are ignored. Not thread-safe: one per stream.
/// </summary>
public sealed class AnthropicStreamTranslator(string id, long created, string fallbackModel, bool includeUsage)
{
    private readonly StringBuilder _text = new();
    private AnthropicUsage? _startUsage;
    private int? _outputTokens;
    private string? _stopReason;
    private char? _heldHighSurrogate;

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

                return null;

            case "content_block_delta":
                if (!Started) return OutOfOrder(streamEvent.Type);
                ContentStarted = true;
                if (streamEvent.Delta is { Type: "text_delta", Text: { Length: > 0 } text })
                {
                    AppendText(text, output);
                }

                return null;

            case "message_delta":
                if (!Started) return OutOfOrder(streamEvent.Type);
                _stopReason = streamEvent.Delta?.StopReason ?? _stopReason;
                _outputTokens = streamEvent.Usage?.OutputTokens ?? _outputTokens;
                return null;

            case "message_stop":
                if (!Started) return OutOfOrder(streamEvent.Type);
                if (_heldHighSurrogate is { } alone)
                {
                    // Its other half never came: given out as it is (U+FFFD on the wire and where the turn is stored).
                    _heldHighSurrogate = null;
                    GiveOut(alone.ToString(), output);
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
                // ping, content_block_stop, and event types added to the API later.
                return null;
        }
    }

    /// <summary>
    /// One content chunk for <paramref name="text"/>. A high surrogate that ends it is held back for the next text, so a pair
    /// the upstream split across two deltas reaches the client whole (the JSON writer would turn each half into U+FFFD);
    /// <see cref="AccumulatedText"/> holds only what was given out.
    /// </summary>
    private void AppendText(string text, ICollection<ChatCompletionChunk> output)
    {
        if (_heldHighSurrogate is { } high)
        {
            text = high + text;
            _heldHighSurrogate = null;
        }

        if (char.IsHighSurrogate(text[^1]))
        {
            _heldHighSurrogate = text[^1];
            text = text[..^1];
        }

        GiveOut(text, output);
    }

    private void GiveOut(string text, ICollection<ChatCompletionChunk> output)
    {
        if (text.Length > 0)
        {
            _text.Append(text);
            output.Add(Chunk(new ChatDelta(Content: text), null));
        }
    }

    private ChatCompletionChunk Chunk(ChatDelta delta, string? finishReason) =>
        new(id, created, Model, [new ChatChunkChoice(0, delta, finishReason)]);

    private static AnthropicFailure OutOfOrder(string type) => AnthropicErrorMapping.Malformed($"a {type} event before message_start");
}
