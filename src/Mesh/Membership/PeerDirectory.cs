using System.Collections.Concurrent;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Trust;

namespace InferenceMesh.Mesh.Membership;

/// <summary>
/// A peer's state as this node sees it: <c>alive</c> (serf alive and its advert answered), <c>suspect</c>
/// (serf alive but the last advert fetch failed: gossip reaches it, HTTPS does not), <c>failed</c> (serf's
/// failure detector gave up on it), <c>left</c> (it left gracefully).
/// </summary>
public sealed record PeerInfo
{
    public required NodeId Id { get; init; }
    public required string State { get; init; }
    /// <summary>trusted | community | open | refused (refused peers are listed but never contacted).</summary>
    public required string Trust { get; init; }
    public required string GossipAddress { get; init; }
    public string? HttpsEndpoint { get; init; }
    public string? ModelsDigest { get; init; }
    public CapabilityAdvert? Advert { get; init; }
    public DateTimeOffset? AdvertAt { get; init; }
    public AdvertFetchError LastAdvertError { get; init; }
    public DateTimeOffset ChangedAt { get; init; }
}

/// <summary>Known peers (never this node). Thread-safe; readers get immutable snapshots.</summary>
public interface IPeerDirectory
{
    /// <summary>False when the config has no <c>mesh:</c> block.</summary>
    bool Enabled { get; }

    /// <summary>This node's id, when the mesh is enabled.</summary>
    NodeId? Self { get; }

    IReadOnlyList<PeerInfo> Peers { get; }

    /// <summary>Raised after every change (tests wait on it instead of sleeping).</summary>
    event Action? Changed;
}

/// <summary>The directory when the mesh is off.</summary>
public sealed class DisabledPeerDirectory : IPeerDirectory
{
    public bool Enabled => false;
    public NodeId? Self => null;
    public IReadOnlyList<PeerInfo> Peers => [];
    public event Action? Changed { add { } remove { } }
}

internal sealed class PeerDirectory(NodeIdentity identity) : IPeerDirectory
{
    private readonly ConcurrentDictionary<NodeId, PeerInfo> _peers = new();

    public bool Enabled => true;

    public NodeId? Self => identity.Id;

    public IReadOnlyList<PeerInfo> Peers => [.. _peers.Values.OrderBy(p => p.Id.ToString(), StringComparer.Ordinal)];

    public event Action? Changed;

    public PeerInfo? Get(NodeId id) => _peers.GetValueOrDefault(id);

    public void Set(PeerInfo peer)
    {
        _peers[peer.Id] = peer;
        Changed?.Invoke();
    }

    public void Update(NodeId id, Func<PeerInfo, PeerInfo> change)
    {
        while (_peers.TryGetValue(id, out var current))
        {
            if (_peers.TryUpdate(id, change(current), current))
            {
                Changed?.Invoke();
                return;
            }
        }
    }

    public void Remove(NodeId id)
    {
        if (_peers.TryRemove(id, out _))
        {
            Changed?.Invoke();
        }
    }

    internal static string StateFrom(string serfStatus, AdvertFetchError lastError) => serfStatus switch
    {
        "alive" => lastError == AdvertFetchError.None ? "alive" : "suspect",
        "leaving" or "left" => "left",
        "failed" => "failed",
        _ => "suspect",
    };
}
