using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using Microsoft.AspNetCore.Http.Features;

namespace InferenceMesh.Gateway.Responses;

/// <summary>
/// The response body of a Responses request while the chat pipeline answers it: whatever writes the chat answer (the
/// local engine, a forwarded backend, the local continuation of a broken stream, an error) writes here, and the client
/// gets it in the Responses shape. A chat event stream is translated event by event as it comes
/// (<see cref="ResponseEventWriter"/>), so nothing is held back; a JSON body (a chat.completion or an error) is held until
/// it is whole, then written as a response object or as the same error with its <c>param</c> named as the Responses field
/// (<see cref="ResponseErrors"/>). Holds answer text: never log it. Not thread-safe (one writer, as a response body).
/// </summary>
internal sealed class ResponseBodyTranslation : Stream
{
    private readonly HttpContext _http;
    private readonly IHttpResponseBodyFeature _original;
    private readonly StreamResponseBodyFeature _feature;
    private ResponseEventWriter _events;
    private ResponseObject _template;
    private readonly MemoryStream _held = new(); // a JSON body, or an event stream's unfinished line
    private readonly ArrayBufferWriter<byte> _out = new(4096);
    private readonly StringBuilder _data = new();
    private Mode _mode;
    private bool _finalReported;

    private ResponseBodyTranslation(HttpContext http, ResponseObject template)
    {
        _http = http;
        _template = template;
        _events = new ResponseEventWriter(template);
        _original = http.Features.Get<IHttpResponseBodyFeature>() ?? throw new InvalidOperationException("The server gives no response body feature.");
        _feature = new StreamResponseBodyFeature(this, _original);
    }

    private enum Mode { Unknown, Held, Events }

    /// <summary>The response as the client got it (completed, incomplete or failed); null when the answer was an error or never ended.</summary>
    public ResponseObject? Final { get; private set; }

    /// <summary>
    /// Called once with the finished response (completed or incomplete, not failed) before its last bytes are written, so that
    /// a client that read the whole answer finds it stored.
    /// </summary>
    public Action<ResponseObject>? OnFinal { get; set; }

    /// <summary>
    /// Called once when the answer's first bytes arrive (the answering backend is known: <c>X-InferenceMesh-Backend</c> is set),
    /// to complete the response's echo for it (e.g. <c>reasoning</c>) before anything is written.
    /// </summary>
    public Func<ResponseObject, ResponseObject>? OnAnswering { get; set; }

    /// <summary>Puts the translation in place of the response body until <see cref="FinishAsync"/>.</summary>
    public static ResponseBodyTranslation Install(HttpContext http, ResponseObject template)
    {
        var translation = new ResponseBodyTranslation(http, template);
        http.Features.Set<IHttpResponseBodyFeature>(translation._feature);
        return translation;
    }

    /// <summary>Puts the server's body back without writing anything (an exception is on its way out).</summary>
    public void Uninstall() => _http.Features.Set(_original);

    /// <summary>After the chat result ran: writes the held body translated, or ends a stream that stopped without its end.</summary>
    public async Task FinishAsync()
    {
        var cancellationToken = _http.RequestAborted;
        try
        {
            await _feature.CompleteAsync(); // what the chat result left in the pipe comes through here first
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested && ex is OperationCanceledException or IOException)
        {
            return; // the client left while the last bytes went out: nobody to finish for
        }
        finally
        {
            Uninstall();
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        switch (_mode)
        {
            case Mode.Events:
                if (!_events.Ended)
                {
                    if (_events.FinishSeen)
                    {
                        _events.Complete(_out);
                    }
                    else
                    {
                        _events.Fail(_out, "stream_interrupted", "The answer stopped before its end.", null);
                    }

                    Report(_events.Final);
                    await _original.Writer.WriteAsync(_out.WrittenMemory, cancellationToken);
                    _out.Clear();
                }

                Final = _events.Final;
                break;
            case Mode.Held:
                await WriteHeldAsync(cancellationToken);
                break;
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_mode == Mode.Unknown)
        {
            var response = _http.Response;
            _mode = response.StatusCode is >= 200 and < 300
                && response.ContentType is { } type && type.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase)
                ? Mode.Events
                : Mode.Held;
            if (OnAnswering is { } answering)
            {
                _template = answering(_template);
                _events = new ResponseEventWriter(_template); // nothing written yet
            }
        }

        if (_mode == Mode.Held)
        {
            _held.Write(buffer.Span);
            return;
        }

        Feed(buffer.Span);
        Report(_events.Final);
        if (_out.WrittenCount > 0)
        {
            await _original.Writer.WriteAsync(_out.WrittenMemory, cancellationToken);
            _out.Clear();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _mode == Mode.Events ? _original.Writer.FlushAsync(cancellationToken).AsTask() : Task.CompletedTask;

    public override void Flush()
    {
    }

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Write asynchronously.");

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Reads complete lines (LF or CRLF); a blank line ends an event, whose <c>data</c> lines are translated.</summary>
    private void Feed(ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length > 0)
        {
            var end = bytes.IndexOf((byte)'\n');
            if (end < 0)
            {
                _held.Write(bytes);
                return;
            }

            ReadOnlySpan<byte> line;
            if (_held.Length > 0)
            {
                _held.Write(bytes[..end]);
                line = _held.GetBuffer().AsSpan(0, (int)_held.Length);
            }
            else
            {
                line = bytes[..end];
            }

            if (line.EndsWith("\r"u8))
            {
                line = line[..^1];
            }

            Line(line);
            _held.SetLength(0);
            bytes = bytes[(end + 1)..];
        }
    }

    private void Line(ReadOnlySpan<byte> line)
    {
        if (line.IsEmpty)
        {
            if (_data.Length > 0)
            {
                Event(_data.ToString());
                _data.Clear();
            }

            return;
        }

        if (line.StartsWith("data:"u8))
        {
            var value = line[5..];
            if (value.StartsWith(" "u8))
            {
                value = value[1..];
            }

            if (_data.Length > 0)
            {
                _data.Append('\n');
            }

            _data.Append(Encoding.UTF8.GetString(value));
        }
    }

    private void Event(string data)
    {
        if (_events.Ended)
        {
            return;
        }

        if (data == "[DONE]")
        {
            _events.Complete(_out);
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(data);
        }
        catch (JsonException)
        {
            _events.Fail(_out, "malformed_response", "The backend's stream held an event that is not JSON.", null);
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                var (code, message, param) = ErrorFields(error);
                _events.Fail(_out, code, message, ResponseErrors.Param(param));
                return;
            }

            if (root.ValueKind == JsonValueKind.Object)
            {
                _events.Chunk(_out, root);
            }
        }
    }

    private static (string Code, string Message, string? Param) ErrorFields(JsonElement error)
    {
        static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return (Text(error, "code") ?? Text(error, "type") ?? "server_error", Text(error, "message") ?? "The answer failed.", Text(error, "param"));
    }

    /// <summary>A chat.completion as a response object; an error (or anything else) as it was, its param renamed.</summary>
    private async Task WriteHeldAsync(CancellationToken cancellationToken)
    {
        var response = _http.Response;
        var body = _held.ToArray();
        JsonNode? json = null;
        try
        {
            json = JsonNode.Parse(body);
        }
        catch (JsonException)
        {
            // Not JSON: passed on as it came.
        }

        if (json is JsonObject root && root["error"] is JsonObject error)
        {
            if (error["param"] is JsonValue param && param.TryGetValue<string>(out var name))
            {
                error["param"] = ResponseErrors.Param(name);
            }

            body = Serialize(root);
        }
        else if (json is JsonObject && response.StatusCode is >= 200 and < 300)
        {
            using var document = JsonDocument.Parse(body);
            Final = FromChat(_template, document.RootElement);
            body = Serialize(Final);
            Report(Final);
            response.ContentType = "application/json; charset=utf-8";
        }

        response.ContentLength = body.Length;
        await _original.Writer.WriteAsync(body, cancellationToken);
    }

    /// <summary>A response object's JSON, written as every body of the gateway is (<see cref="JsonBodies"/>).</summary>
    public static byte[] Serialize(ResponseObject response) => Serialize(JsonSerializer.SerializeToNode(response, OpenAiJsonContext.Default.ResponseObject)!);

    private void Report(ResponseObject? final)
    {
        if (final is null || final.Status == "failed" || _finalReported)
        {
            return;
        }

        _finalReported = true;
        OnFinal?.Invoke(final);
    }

    private static byte[] Serialize(JsonNode node)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, JsonBodies.WriterOptions))
        {
            node.WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A whole chat answer as the response: a message with its text (when it has text, or no call), then a function_call per tool call.</summary>
    public static ResponseObject FromChat(ResponseObject template, JsonElement completion)
    {
        var output = new List<ResponseOutputItem>();
        string? finishReason = null;
        var choice = completion.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0 ? choices[0] : default;
        if (choice.ValueKind == JsonValueKind.Object)
        {
            finishReason = choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String ? finish.GetString() : null;
            var message = choice.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
            var text = message.ValueKind == JsonValueKind.Object && message.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : string.Empty;
            var calls = message.ValueKind == JsonValueKind.Object && message.TryGetProperty("tool_calls", out var t) && t.ValueKind == JsonValueKind.Array ? t : default;
            if (text.Length > 0 || calls.ValueKind != JsonValueKind.Array || calls.GetArrayLength() == 0)
            {
                var logProbs = choice.TryGetProperty("logprobs", out var l) && l.ValueKind == JsonValueKind.Object ? ResponseEventWriter.LogProbs(l) : null;
                var status = ResponseEventWriter.IncompleteReason(finishReason) is null ? "completed" : "incomplete";
                output.Add(new ResponseOutputMessage(InferenceService.NewId("msg_"), status, [new ResponseOutputText(text, logProbs)]));
            }

            foreach (var call in calls.ValueKind == JsonValueKind.Array ? calls.EnumerateArray() : default)
            {
                var function = call.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object ? f : default;
                output.Add(new ResponseFunctionCall(
                    InferenceService.NewId("fc_"), "completed",
                    String(call, "id") ?? InferenceService.NewId("call_"),
                    function.ValueKind == JsonValueKind.Object ? String(function, "name") ?? string.Empty : string.Empty,
                    function.ValueKind == JsonValueKind.Object ? String(function, "arguments") ?? "{}" : "{}"));
            }
        }

        var usage = completion.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object ? ResponseEventWriter.Usage(u) : null;
        var answered = completion.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String && model.GetString() is { Length: > 0 } name ? template with { Model = name } : template;
        return ResponseEventWriter.Finished(answered, output, finishReason, usage);
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
