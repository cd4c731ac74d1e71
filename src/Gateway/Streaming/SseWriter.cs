using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;

namespace InferenceMesh.Gateway.Streaming;

/// <summary>
/// Writes server-sent events: each event is <c>data: {json}\n\n</c> built from ONE serializer call (JSON
/// escapes line breaks, so text can never break a frame) and flushed at once. Not thread-safe.
/// </summary>
internal sealed class SseWriter
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // JSON in an event stream is never embedded in HTML: skip HTML escaping, keep the wire readable.
        // Control characters (\n, \r, \u2028…) are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = false,
    };

    private readonly HttpResponse _response;
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _json;

    public SseWriter(HttpResponse response)
    {
        _response = response;
        _json = new Utf8JsonWriter(_buffer, WriterOptions);
    }

    /// <summary>Sends the 200 headers for an event stream and turns off response buffering.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _response.StatusCode = StatusCodes.Status200OK;
        _response.ContentType = "text/event-stream; charset=utf-8";
        _response.Headers.CacheControl = "no-cache";
        _response.Headers["X-Accel-Buffering"] = "no";
        _response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await _response.StartAsync(cancellationToken);
    }

    public async Task WriteEventAsync<T>(T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        _buffer.ResetWrittenCount();
        _buffer.Write("data: "u8);
        _json.Reset(_buffer);
        JsonSerializer.Serialize(_json, value, typeInfo);
        _json.Flush();
        _buffer.Write("\n\n"u8);
        await _response.BodyWriter.WriteAsync(_buffer.WrittenMemory, cancellationToken);
    }

    public async Task WriteDoneAsync(CancellationToken cancellationToken) =>
        await _response.BodyWriter.WriteAsync("data: [DONE]\n\n"u8.ToArray(), cancellationToken);
}
