using System.Text.Json.Serialization;

namespace InferenceMesh.Mesh.Capabilities;

/// <summary>What a node serves, as <c>GET /mesh/v1/capabilities</c> returns it.</summary>
public sealed record CapabilityAdvert
{
    [JsonPropertyName("nodeId")] public required string NodeId { get; init; }
    [JsonPropertyName("models")] public required IReadOnlyList<AdvertisedModel> Models { get; init; }
    [JsonPropertyName("modelsDigest")] public required string ModelsDigest { get; init; }
    [JsonPropertyName("load")] public required AdvertisedLoad Load { get; init; }
    [JsonPropertyName("pricePerMillionTokens")] public decimal PricePerMillionTokens { get; init; }
    [JsonPropertyName("jurisdiction")] public string? Jurisdiction { get; init; }
    [JsonPropertyName("generatedAt")] public DateTimeOffset GeneratedAt { get; init; }
}

/// <summary>One model: name (the file name without .gguf), SHA-256 of the file, quantisation and training context.</summary>
public sealed record AdvertisedModel
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("sha256")] public required string Sha256 { get; init; }
    [JsonPropertyName("sizeBytes")] public long SizeBytes { get; init; }
    [JsonPropertyName("quantization")] public string? Quantization { get; init; }
    [JsonPropertyName("contextLength")] public int? ContextLength { get; init; }
}

/// <summary>Active and queued sequences summed over loaded models, and slots in total.</summary>
public sealed record AdvertisedLoad
{
    [JsonPropertyName("activeSequences")] public int ActiveSequences { get; init; }
    [JsonPropertyName("queuedSequences")] public int QueuedSequences { get; init; }
    [JsonPropertyName("slots")] public int Slots { get; init; }
}

/// <summary>A model file as the host's catalog knows it (the gateway adapts IModelCatalog to this).</summary>
public sealed record LocalModelFile(string Name, string Path, long SizeBytes, DateTimeOffset LastWriteUtc, string? Quantization, int? ContextLength);

/// <summary>The host's models and engine load; implemented by the gateway over IModelCatalog and IModelHost. Thread-safe.</summary>
public interface ILocalCapabilitySource
{
    IReadOnlyList<LocalModelFile> GetModels();

    AdvertisedLoad GetLoad();
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CapabilityAdvert))]
internal sealed partial class MeshJsonContext : JsonSerializerContext;
