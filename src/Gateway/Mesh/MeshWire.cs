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
    /// <summary>The backend name plans use for this peer (peer- + the first two groups of its id).</summary>
    [JsonPropertyName("backend")] public string? Backend { get; init; }
    [JsonPropertyName("reputation")] public MeshReputationWire? Reputation { get; init; }
}

/// <summary>A peer's reputation 0..1 and what it is made of (verification, receipts).</summary>
public sealed record MeshReputationWire
{
    [JsonPropertyName("score")] public double Score { get; init; }
    [JsonPropertyName("verified")] public int Verified { get; init; }
    [JsonPropertyName("mismatches")] public int Mismatches { get; init; }
    [JsonPropertyName("receipts")] public int Receipts { get; init; }
    [JsonPropertyName("invalidReceipts")] public int InvalidReceipts { get; init; }
    [JsonPropertyName("lastMismatch")] public string? LastMismatch { get; init; }
    [JsonPropertyName("lastMismatchAt")] public DateTimeOffset? LastMismatchAt { get; init; }

    public static MeshReputationWire From(InferenceMesh.Mesh.Reputation.ReputationRecord r) => new()
    {
        Score = r.Score,
        Verified = r.Verified,
        Mismatches = r.Mismatches,
        Receipts = r.Receipts,
        InvalidReceipts = r.InvalidReceipts,
        LastMismatch = r.LastMismatch,
        LastMismatchAt = r.LastMismatchAt,
    };
}

/// <summary>The mesh part of <c>/health</c>.</summary>
public sealed record MeshHealthWire
{
    [JsonPropertyName("self")] public required string Self { get; init; }
    [JsonPropertyName("peers_alive")] public int PeersAlive { get; init; }
    [JsonPropertyName("served")] public required MeshServedWire Served { get; init; }
    [JsonPropertyName("verification")] public required MeshVerificationWire Verification { get; init; }
    [JsonPropertyName("peers")] public required IReadOnlyList<MeshPeerHealthWire> Peers { get; init; }
}

/// <summary>Peer requests this node received on its mesh listener.</summary>
public sealed record MeshServedWire(
    [property: JsonPropertyName("received")] long Received,
    [property: JsonPropertyName("served")] long Served,
    [property: JsonPropertyName("refused")] long Refused,
    [property: JsonPropertyName("quota_exceeded")] long QuotaExceeded);

public sealed record MeshVerificationWire(
    [property: JsonPropertyName("share")] double Share,
    [property: JsonPropertyName("running")] long Running,
    [property: JsonPropertyName("unverifiable")] long Unverifiable);

public sealed record MeshPeerHealthWire(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("backend")] string Backend,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("reputation")] MeshReputationWire Reputation);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MeshPeersWire))]
[JsonSerializable(typeof(MeshHealthWire))]
internal sealed partial class MeshJsonWireContext : JsonSerializerContext;
