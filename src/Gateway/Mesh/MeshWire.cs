using System.Text.Json.Serialization;
using InferenceMesh.Mesh.Capabilities;

namespace InferenceMesh.Gateway.Mesh;

/// <summary><c>GET /v1/mesh/peers</c>.</summary>
public sealed record MeshPeersWire
{
    [JsonPropertyName("enabled")] public bool Enabled { get; init; }
    [JsonPropertyName("self")] public string? Self { get; init; }
    [JsonPropertyName("peers")] public required IReadOnlyList<MeshPeerWire> Peers { get; init; }
}

public sealed record MeshPeerWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    /// <summary>alive | suspect | failed | left.</summary>
    [JsonPropertyName("state")] public required string State { get; init; }
    /// <summary>trusted | community | open | refused.</summary>
    [JsonPropertyName("trust")] public required string Trust { get; init; }
    [JsonPropertyName("gossip")] public required string Gossip { get; init; }
    [JsonPropertyName("https")] public string? Https { get; init; }
    [JsonPropertyName("models")] public required IReadOnlyList<AdvertisedModel> Models { get; init; }
    [JsonPropertyName("load")] public AdvertisedLoad? Load { get; init; }
    [JsonPropertyName("pricePerMillionTokens")] public decimal? PricePerMillionTokens { get; init; }
    [JsonPropertyName("jurisdiction")] public string? Jurisdiction { get; init; }
    [JsonPropertyName("advertAt")] public DateTimeOffset? AdvertAt { get; init; }
    [JsonPropertyName("advertError")] public string? AdvertError { get; init; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MeshPeersWire))]
internal sealed partial class MeshJsonWireContext : JsonSerializerContext;
