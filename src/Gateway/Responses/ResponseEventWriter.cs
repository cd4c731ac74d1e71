using System.Buffers;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Responses;

/// <summary>
/// Turns a chat-completions stream (its chunks, in order) into the Responses API's named events, each with its
/// <c>type</c> and a <c>sequence_number</c> from 0: response.created and response.in_progress at the first chunk; for text,
/// response.output_item.added (a message), response.content_part.added, response.output_text.delta per piece,
/// response.output_text.done, response.content_part.done, response.output_item.done; for each tool call,
/// response.output_item.added (a function_call), response.function_call_arguments.delta per fragment,
/// response.function_call_arguments.done, response.output_item.done; then response.completed (response.incomplete when the
/// token budget ran out). A failure is an <c>error</c> event then response.failed. No [DONE]. Holds answer text: never log it.
/// </summary>
internal sealed class ResponseEventWriter(ResponseObject template)
{
    private const int ContentIndex = 0;

    private readonly List<ResponseOutputItem> _output = [];
    private readonly StringBuilder _text = new();
    private readonly StringBuilder _arguments = new();
    private List<ChatTokenLogProb>? _logProbs;
    private ResponseObject _response = template;
    private OpenItem _open;
    private string _itemId = string.Empty;
    private int _callIndex = -1;
    private string _callId = string.Empty, _callName = string.Empty;
    private int _sequence;
    private string? _finishReason;
    private ResponseUsage? _usage;

    private enum OpenItem { None, Message, Call }

    /// <summary>Whether response.created went out.</summary>
    public bool Started { get; private set; }

    /// <summary>Whether the last event (completed, incomplete or failed) went out: nothing more follows.</summary>
    public bool Ended { get; private set; }

    /// <summary>Whether the chat stream gave its finish reason.</summary>
    public bool FinishSeen => _finishReason is not null;

    /// <summary>The response the stream ended with (completed, incomplete or failed); null before the end.</summary>
    public ResponseObject? Final { get; private set; }

    /// <summary>Reads one chat chunk (<c>chat.completion.chunk</c>) and writes its events.</summary>
    public void Chunk(IBufferWriter<byte> output, JsonElement chunk)
    {
        Start(output, chunk);
        if (chunk.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            _usage = Usage(usage);
        }

        if (!chunk.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
        {
            return;
        }

        var choice = choices[0];
        if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object)
        {
            var logProbs = choice.TryGetProperty("logprobs", out var l) && l.ValueKind == JsonValueKind.Object ? LogProbs(l) : null;
            if (delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String && content.GetString() is { Length: > 0 } text
                || logProbs is { Count: > 0 })
            {
                Text(output, content.ValueKind == JsonValueKind.String ? content.GetString()! : string.Empty, logProbs);
            }

            if (delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                var position = 0;
                foreach (var call in calls.EnumerateArray())
                {
                    ToolCall(output, call, position++);
                }
            }
        }

        if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
        {
            _finishReason = finish.GetString();
        }
    }

    /// <summary>The end of the answer ([DONE], or the end of a stream after its finish reason): the open item closes and the response completes.</summary>
    public void Complete(IBufferWriter<byte> output)
    {
        if (Ended)
        {
            return;
        }

        Start(output, default);
        var incomplete = IncompleteReason(_finishReason);
        Close(output, incomplete is null ? "completed" : "incomplete");
        if (_output.Count == 0)
        {
            // No text and no call: an empty message, so the answer still has its message item.
            Text(output, string.Empty, null, force: true);
            Close(output, incomplete is null ? "completed" : "incomplete");
        }

        Final = Finished(_response, _output, _finishReason, _usage);
        Write(output, incomplete is null ? "response.completed" : "response.incomplete", e => e with { Response = Final });
        Ended = true;
    }

    /// <summary>A failure after the first byte: an <c>error</c> event, then response.failed with what was answered so far.</summary>
    public void Fail(IBufferWriter<byte> output, string code, string message, string? param)
    {
        if (Ended)
        {
            return;
        }

        Start(output, default);
        Event(output, "error", new ResponseErrorEvent(code, message, param, _sequence++), OpenAiJsonContext.Default.ResponseErrorEvent);
        var open = OpenItemAs("incomplete");
        Final = _response with { Status = "failed", Error = new ResponseError(code, message), Output = open is null ? [.. _output] : [.. _output, open], Usage = _usage };
        Write(output, "response.failed", e => e with { Response = Final });
        Ended = true;
    }

    /// <summary>The finished response of a whole answer: <paramref name="output"/> items, status from the chat finish reason.</summary>
    public static ResponseObject Finished(ResponseObject response, IReadOnlyList<ResponseOutputItem> output, string? finishReason, ResponseUsage? usage)
    {
        var incomplete = IncompleteReason(finishReason);
        return response with
        {
            Status = incomplete is null ? "completed" : "incomplete",
            IncompleteDetails = incomplete is null ? null : new ResponseIncompleteDetails(incomplete),
            Output = [.. output],
            Usage = usage,
        };
    }

    /// <summary>Why a chat finish reason makes a response incomplete, or null when it does not.</summary>
    public static string? IncompleteReason(string? finishReason) => finishReason switch
    {
        "length" => "max_output_tokens",
        "content_filter" => "content_filter",
        _ => null,
    };

    public static ResponseUsage Usage(JsonElement usage)
    {
        var input = Int(usage, "prompt_tokens");
        var output = Int(usage, "completion_tokens");
        var cached = usage.TryGetProperty("prompt_tokens_details", out var inDetails) && inDetails.ValueKind == JsonValueKind.Object ? Int(inDetails, "cached_tokens") : 0;
        var reasoning = usage.TryGetProperty("completion_tokens_details", out var outDetails) && outDetails.ValueKind == JsonValueKind.Object ? Int(outDetails, "reasoning_tokens") : 0;
        var total = usage.TryGetProperty("total_tokens", out var t) && t.ValueKind == JsonValueKind.Number ? t.GetInt32() : input + output;
        return new ResponseUsage(input, new ResponseInputTokensDetails(cached), output, new ResponseOutputTokensDetails(reasoning), total);
    }

    /// <summary>A choice's <c>logprobs.content</c> entries (chat's shape, which the Responses text parts keep).</summary>
    public static List<ChatTokenLogProb>? LogProbs(JsonElement logProbs) =>
        logProbs.Deserialize(OpenAiJsonContext.Default.ChatLogProbs)?.Content?.ToList();

    private static int Int(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : 0;

    private void Start(IBufferWriter<byte> output, JsonElement chunk)
    {
        if (Started)
        {
            return;
        }

        Started = true;
        if (chunk.ValueKind == JsonValueKind.Object && chunk.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String && model.GetString() is { Length: > 0 } name)
        {
            _response = _response with { Model = name }; // the model that answers, as chat names it
        }

        Write(output, "response.created", e => e with { Response = _response });
        Write(output, "response.in_progress", e => e with { Response = _response });
    }

    private void Text(IBufferWriter<byte> output, string text, List<ChatTokenLogProb>? logProbs, bool force = false)
    {
        if (_open != OpenItem.Message)
        {
            Close(output, "completed");
            _open = OpenItem.Message;
            _itemId = InferenceService.NewId("msg_");
            _text.Clear();
            _logProbs = null;
            Write(output, "response.output_item.added", e => e with { OutputIndex = _output.Count, Item = new ResponseOutputMessage(_itemId, "in_progress", []) });
            Write(output, "response.content_part.added", e => Part(e) with { Part = new ResponseOutputText(string.Empty) });
        }

        if (text.Length == 0 && logProbs is null && force)
        {
            return;
        }

        _text.Append(text);
        if (logProbs is not null)
        {
            (_logProbs ??= []).AddRange(logProbs);
        }

        Write(output, "response.output_text.delta", e => Part(e) with { Delta = text, Logprobs = logProbs });
    }

    /// <summary>One <c>delta.tool_calls</c> entry: a new index opens a function_call item, the next fragments add to its arguments.</summary>
    private void ToolCall(IBufferWriter<byte> output, JsonElement call, int position)
    {
        if (call.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        var index = call.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out var at) ? at : position;
        string? name = null, fragment = null;
        if (call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
        {
            name = function.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            fragment = function.TryGetProperty("arguments", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
        }

        if (_open != OpenItem.Call || index != _callIndex)
        {
            Close(output, "completed");
            _open = OpenItem.Call;
            _callIndex = index;
            _itemId = InferenceService.NewId("fc_");
            _callId = call.TryGetProperty("id", out var id) && id.GetString() is { Length: > 0 } callId ? callId : InferenceService.NewId("call_");
            _callName = name ?? string.Empty;
            _arguments.Clear();
            Write(output, "response.output_item.added", e => e with { OutputIndex = _output.Count, Item = new ResponseFunctionCall(_itemId, "in_progress", _callId, _callName, string.Empty) });
        }
        else if (name is { Length: > 0 } && _callName.Length == 0)
        {
            _callName = name;
        }

        if (fragment is { Length: > 0 })
        {
            _arguments.Append(fragment);
            Write(output, "response.function_call_arguments.delta", e => e with { ItemId = _itemId, OutputIndex = _output.Count, Delta = fragment });
        }
    }

    /// <summary>Closes the open item (its done events) with <paramref name="status"/>.</summary>
    private void Close(IBufferWriter<byte> output, string status)
    {
        if (OpenItemAs(status) is not { } item)
        {
            return;
        }

        if (item is ResponseOutputMessage message)
        {
            var part = message.Content[0];
            Write(output, "response.output_text.done", e => Part(e) with { Text = part.Text, Logprobs = part.Logprobs });
            Write(output, "response.content_part.done", e => Part(e) with { Part = part });
        }
        else if (item is ResponseFunctionCall call)
        {
            Write(output, "response.function_call_arguments.done", e => e with { ItemId = _itemId, OutputIndex = _output.Count, Arguments = call.Arguments, Name = call.Name });
        }

        Write(output, "response.output_item.done", e => e with { OutputIndex = _output.Count, Item = item });
        _output.Add(item);
        _open = OpenItem.None;
    }

    private ResponseOutputItem? OpenItemAs(string status) => _open switch
    {
        OpenItem.Message => new ResponseOutputMessage(_itemId, status, [new ResponseOutputText(_text.ToString(), _logProbs)]),
        OpenItem.Call => new ResponseFunctionCall(_itemId, status, _callId, _callName, _arguments.ToString()),
        _ => null,
    };

    private ResponseStreamEvent Part(ResponseStreamEvent e) => e with { ItemId = _itemId, OutputIndex = _output.Count, ContentIndex = ContentIndex };

    private void Write(IBufferWriter<byte> output, string type, Func<ResponseStreamEvent, ResponseStreamEvent> fill) =>
        Event(output, type, fill(new ResponseStreamEvent(type, _sequence++)), OpenAiJsonContext.Default.ResponseStreamEvent);

    private static void Event<T>(IBufferWriter<byte> output, string type, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        output.Write("event: "u8);
        output.Write(Encoding.UTF8.GetBytes(type));
        output.Write("\ndata: "u8);
        using (var writer = new Utf8JsonWriter(output, JsonBodies.WriterOptions))
        {
            JsonSerializer.Serialize(writer, value, typeInfo);
        }

        output.Write("\n\n"u8);
    }
}
