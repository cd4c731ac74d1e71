using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace InferenceMesh.Gateway.Streaming;

/// <summary>Encodes whole SSE frames as bytes (for streams the gateway produces itself, e.g. a local continuation). Same framing as <see cref="SseWriter"/>.</summary>
internal static class SseEvents
{
    public static ReadOnlyMemory<byte> Done { get; } = "data: [DONE]\n\n"u8.ToArray();

    /// <summary><c>data: {json}\n\n</c> from one serializer call (JSON escapes line breaks, so text never breaks a frame).</summary>
    public static ReadOnlyMemory<byte> Encode<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write("data: "u8);
        using (var json = new Utf8JsonWriter(buffer, OpenAi.JsonBodies.WriterOptions))
        {
            JsonSerializer.Serialize(json, value, typeInfo);
        }

        buffer.Write("\n\n"u8);
        return buffer.WrittenMemory;
    }
}
