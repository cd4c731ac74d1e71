using System.Buffers;
using System.Text.Json;

namespace InferenceMesh.Gateway.Streaming;

/// <summary>
/// A whole <c>chat.completion</c> as the event stream a streaming upstream would have sent: per choice a chunk whose delta is
/// the message (each tool call given its <c>index</c>), then a chunk with its finish_reason; the usage chunk
/// (<c>choices: []</c>) when the completion has usage; then <c>[DONE]</c>. For an upstream that answers a streamed request
/// with <c>application/json</c>: the relay then reads it like any stream.
/// </summary>
internal static class CompletionEvents
{
    /// <param name="completion">A body that passed the chat.completion shape check.</param>
    public static byte[] FromCompletion(ReadOnlySpan<byte> completion)
    {
        using var document = JsonDocument.Parse(completion.ToArray());
        var root = document.RootElement;
        var buffer = new ArrayBufferWriter<byte>(completion.Length + 512);
        foreach (var choice in root.GetProperty("choices").EnumerateArray())
        {
            var index = choice.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : 0;
            Event(buffer, root, writer =>
            {
                writer.WriteStartObject();
                writer.WriteNumber("index", index);
                writer.WritePropertyName("delta");
                WriteDelta(writer, choice.TryGetProperty("message", out var message) ? message : default);
                writer.WriteNull("finish_reason");
                writer.WriteEndObject();
            });
            Event(buffer, root, writer =>
            {
                writer.WriteStartObject();
                writer.WriteNumber("index", index);
                writer.WriteStartObject("delta");
                writer.WriteEndObject();
                writer.WritePropertyName("finish_reason");
                if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
                {
                    finish.WriteTo(writer);
                }
                else
                {
                    writer.WriteStringValue("stop");
                }

                writer.WriteEndObject();
            });
        }

        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            Event(buffer, root, null, usage);
        }

        buffer.Write(SseEvents.Done.Span);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>One <c>data: {chunk}\n\n</c> with the completion's id, created and model, and one choice (or none, with usage).</summary>
    private static void Event(ArrayBufferWriter<byte> buffer, JsonElement root, Action<Utf8JsonWriter>? choice, JsonElement usage = default)
    {
        buffer.Write("data: "u8);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var name in (ReadOnlySpan<string>)["id", "created", "model", "system_fingerprint"])
            {
                if (root.TryGetProperty(name, out var value))
                {
                    writer.WritePropertyName(name);
                    value.WriteTo(writer);
                }
            }

            writer.WriteString("object", "chat.completion.chunk");
            writer.WriteStartArray("choices");
            choice?.Invoke(writer);
            writer.WriteEndArray();
            if (usage.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName("usage");
                usage.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        buffer.Write("\n\n"u8);
    }

    private static void WriteDelta(Utf8JsonWriter writer, JsonElement message)
    {
        writer.WriteStartObject();
        if (message.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in message.EnumerateObject())
            {
                if (property.NameEquals("tool_calls") && property.Value.ValueKind == JsonValueKind.Array)
                {
                    writer.WriteStartArray("tool_calls");
                    var callIndex = 0;
                    foreach (var call in property.Value.EnumerateArray())
                    {
                        writer.WriteStartObject();
                        writer.WriteNumber("index", callIndex++); // a streamed tool call names its place
                        if (call.ValueKind == JsonValueKind.Object)
                        {
                            foreach (var field in call.EnumerateObject().Where(f => !f.NameEquals("index")))
                            {
                                field.WriteTo(writer);
                            }
                        }

                        writer.WriteEndObject();
                    }

                    writer.WriteEndArray();
                }
                else
                {
                    property.WriteTo(writer);
                }
            }
        }

        writer.WriteEndObject();
    }
}
