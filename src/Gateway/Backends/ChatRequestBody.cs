using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceMesh.Gateway.Backends;

/// <summary>
/// The chat-completions body a forwarding backend sends: the client's own bytes, or the context stages' edited JSON
/// when a stage changed it. <see cref="WithModel"/> gives the bytes with the top-level <c>model</c> set to the plan
/// step's model. From the client's bytes that is a splice of the model's value only: every other byte goes out as the
/// client sent it, and when the model is already the one asked for, the client's array itself (no parse into a DOM,
/// no copy). Holds prompt text: never log it. Immutable; thread-safe.
/// </summary>
public sealed class ChatRequestBody
{
    private const string ModelProperty = "model";

    private readonly byte[]? _raw;
    private readonly JsonObject? _edited;

    private ChatRequestBody(byte[]? raw, JsonObject? edited)
    {
        _raw = raw;
        _edited = edited;
    }

    /// <summary>The client's body as received (already validated as a chat-completions request). The array is not copied: do not change it.</summary>
    public static ChatRequestBody FromRaw(byte[] raw) => new(raw ?? throw new ArgumentNullException(nameof(raw)), null);

    /// <summary>A body edited as JSON (the context stages'). It is read, never changed.</summary>
    public static ChatRequestBody FromJson(JsonObject body) => new(null, body ?? throw new ArgumentNullException(nameof(body)));

    /// <summary>The body to send, with every top-level <c>model</c> set to <paramref name="model"/>. Do not change the array returned.</summary>
    public byte[] WithModel(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (_edited is { } edited)
        {
            return Write(edited, model);
        }

        try
        {
            return Splice(_raw!, model);
        }
        catch (JsonException)
        {
            // Something the splice's strict reader refuses but the request parser accepted: the DOM's way.
            return Write(JsonNode.Parse(_raw!)!.AsObject(), model);
        }
    }

    /// <summary>Replaces the value of each top-level "model" property in place; the input itself when nothing changes.</summary>
    private static byte[] Splice(byte[] raw, string model)
    {
        var reader = new Utf8JsonReader(raw);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("The body is not a JSON object.");
        }

        List<(int Start, int End)>? replace = null;
        var found = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isModel = reader.ValueTextEquals(ModelProperty);
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            var unchanged = isModel && reader.TokenType == JsonTokenType.String && reader.ValueTextEquals(model);
            reader.Skip(); // to the end of an object or array value; nothing for a scalar
            found |= isModel;
            if (isModel && !unchanged)
            {
                (replace ??= []).Add((start, (int)reader.BytesConsumed));
            }
        }

        if (!found)
        {
            throw new JsonException("The body has no top-level model."); // the DOM's way adds one
        }

        if (replace is null)
        {
            return raw;
        }

        var encoded = JsonEncodedText.Encode(model).EncodedUtf8Bytes;
        var buffer = new ArrayBufferWriter<byte>(raw.Length + (encoded.Length + 2) * replace.Count);
        var copied = 0;
        foreach (var (start, end) in replace)
        {
            buffer.Write(raw.AsSpan(copied, start - copied));
            buffer.Write("\""u8);
            buffer.Write(encoded);
            buffer.Write("\""u8);
            copied = end;
        }

        buffer.Write(raw.AsSpan(copied));
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes <paramref name="body"/> with its model replaced, keeping the order of the fields.</summary>
    private static byte[] Write(JsonObject body, string model)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            var hasModel = false;
            foreach (var (name, value) in body)
            {
                writer.WritePropertyName(name);
                if (name == ModelProperty)
                {
                    writer.WriteStringValue(model);
                    hasModel = true;
                }
                else if (value is null)
                {
                    writer.WriteNullValue();
                }
                else
                {
                    value.WriteTo(writer);
                }
            }

            if (!hasModel)
            {
                writer.WriteString(ModelProperty, model);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
