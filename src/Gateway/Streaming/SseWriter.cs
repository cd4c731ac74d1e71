using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;

namespace InferenceMesh.Gateway.Streaming;

/// <summary>
/// Writes server-sent events: each event is <c>data: {json}\n\n</c> built from ONE serializer call (JSON
/// escapes line breaks, so text can never break a frame), serialised straight into the response's pipe.
/// <see cref="WriteEvent{T}"/> only buffers; <see cref="FlushAsync"/> sends. A stream flushes whenever no
/// further event is ready, so a slow reader gets several events per write instead of one write per token.
/// Not thread-safe.
/// </summary>
internal sealed class SseWriter
{
    /// <summary>Buffered bytes above which <see cref="WriteEvent{T}"/> callers should flush even if more events are ready.</summary>
    internal const int FlushThresholdBytes = 16 * 1024;

    private readonly HttpResponse _response;
    private readonly PipeWriter _pipe;
    private readonly Utf8JsonWriter _json;
    private long _unflushed;

    public SseWriter(HttpResponse response)
    {
        _response = response;
        _pipe = response.BodyWriter;
        _json = new Utf8JsonWriter(_pipe, OpenAi.JsonBodies.WriterOptions);
    }

    /// <summary>Bytes written since the last flush.</summary>
    public long UnflushedBytes => _unflushed;

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

    /// <summary>Buffers one event; nothing is sent until <see cref="FlushAsync"/>.</summary>
    public void WriteEvent<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        Write("data: "u8);
        _json.Reset(_pipe);
        JsonSerializer.Serialize(_json, value, typeInfo);
        _json.Flush();
        _unflushed += _json.BytesCommitted;
        Write("\n\n"u8);
    }

    /// <summary>Buffers one named event, <c>event: {name}\n</c> before its data (the Responses API names each event by its type).</summary>
    public void WriteEvent<T>(string name, T value, JsonTypeInfo<T> typeInfo)
    {
        Write("event: "u8);
        _unflushed += Encoding.UTF8.GetBytes(name, _pipe);
        Write("\n"u8);
        WriteEvent(value, typeInfo);
    }

    /// <summary>Sends everything buffered (nothing when nothing is).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_unflushed == 0)
        {
            return;
        }

        _unflushed = 0;
        await _pipe.FlushAsync(cancellationToken);
    }

    public async Task WriteEventAsync<T>(T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        WriteEvent(value, typeInfo);
        await FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Writes one event per item (through <paramref name="writeEvent"/>), flushing as soon as no further item is
    /// ready: a reader that keeps up gets each event at once; one that falls behind (or a burst of items that
    /// arrived together) gets the waiting events in one write, at most about <see cref="FlushThresholdBytes"/> each.
    /// </summary>
    public async Task WriteEachAsync<TItem>(IAsyncEnumerable<TItem> items, Action<TItem> writeEvent, CancellationToken cancellationToken)
    {
        var enumerator = items.GetAsyncEnumerator(cancellationToken);
        try
        {
            var next = enumerator.MoveNextAsync();
            while (true)
            {
                if (!next.IsCompleted || _unflushed >= FlushThresholdBytes)
                {
                    await FlushAsync(cancellationToken);
                }

                if (!await next)
                {
                    break;
                }

                writeEvent(enumerator.Current);
                next = enumerator.MoveNextAsync();
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
        }

        await FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Ends a stream that already started after an unexpected failure: <paramref name="writeErrorAndEnd"/> writes the
    /// error event and the stream's end; a client that cannot take them any more is cut off instead.
    /// </summary>
    public static async Task EndAfterFailureAsync(HttpContext httpContext, Func<Task> writeErrorAndEnd)
    {
        try
        {
            await writeErrorAndEnd();
        }
        catch (Exception writeFailure) when (writeFailure is IOException or OperationCanceledException or InvalidOperationException)
        {
            httpContext.Abort();
        }
    }

    public async Task WriteDoneAsync(CancellationToken cancellationToken)
    {
        Write("data: [DONE]\n\n"u8);
        await FlushAsync(cancellationToken);
    }

    /// <summary>Buffers bytes that are already a whole SSE frame or comment.</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes) => Write(bytes);

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _pipe.Write(bytes);
        _unflushed += bytes.Length;
    }
}
