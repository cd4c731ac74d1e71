using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>POST /v1/embeddings body.</summary>
public sealed record EmbeddingRequest
{
    public string? Model { get; init; }
    /// <summary>A string or an array of strings.</summary>
    public JsonElement? Input { get; init; }
    /// <summary>"float" (default) or "base64".</summary>
    public string? EncodingFormat { get; init; }
    public int? Dimensions { get; init; }
    public string? User { get; init; }
    /// <summary>Our LoRA extension of chat and completions; embeddings refuse it (adapters are not applied there).</summary>
    public JsonElement? Lora { get; init; }
}

public sealed record EmbeddingResponse(IReadOnlyList<EmbeddingData> Data, string Model, EmbeddingUsage Usage)
{
    public string Object => "list";
}

public sealed record EmbeddingData(int Index, EmbeddingVector Embedding)
{
    public string Object => "embedding";
}

public sealed record EmbeddingUsage(int PromptTokens, int TotalTokens);

/// <summary>A vector written either as a JSON array of floats or as base64 of little-endian float32 (encoding_format=base64).</summary>
[JsonConverter(typeof(EmbeddingVectorConverter))]
public readonly record struct EmbeddingVector(float[] Values, bool Base64);

internal sealed class EmbeddingVectorConverter : JsonConverter<EmbeddingVector>
{
    public override EmbeddingVector Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Embedding vectors are only written.");

    public override void Write(Utf8JsonWriter writer, EmbeddingVector value, JsonSerializerOptions options)
    {
        if (value.Base64)
        {
            // float32 little-endian, as OpenAI encodes it (every supported platform is little-endian).
            writer.WriteBase64StringValue(MemoryMarshal.AsBytes(value.Values.AsSpan()));
            return;
        }

        writer.WriteStartArray();
        foreach (var v in value.Values)
        {
            writer.WriteNumberValue(v);
        }

        writer.WriteEndArray();
    }
}
