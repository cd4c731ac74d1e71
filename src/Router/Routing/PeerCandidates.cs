using InferenceMesh.Router.Configuration;

namespace InferenceMesh.Router.Routing;

/// <summary>How much this node trusts a mesh peer (config <c>mesh.trust</c>); the policy's <c>peers</c> list per level names these.</summary>
public enum PeerTrust
{
    /// <summary>An unlisted node admitted because admission is open.</summary>
    Open,

    /// <summary>Known (listed or joined), not trusted with private data.</summary>
    Community,

    /// <summary>A node the operator controls or vouches for.</summary>
    Trusted,
}

/// <summary>One model a peer advertises: its name and the SHA-256 of its file.</summary>
public sealed record PeerModel(string Name, string Digest);

/// <summary>
/// A live mesh peer that may become a plan step: alive, admitted (never an unlisted id under <c>listed</c> admission),
/// with an advert. The gateway builds these from the mesh's peer directory on every request; the router never
/// reads static config for them.
/// </summary>
public sealed record PeerCandidate
{
    /// <summary>The peer's node id (printed form).</summary>
    public required string NodeId { get; init; }

    /// <summary>The backend name used in plans, health and logs: <c>peer-</c> + the first two groups of the node id (<see cref="BackendName"/>).</summary>
    public required string Backend { get; init; }

    public required PeerTrust Trust { get; init; }

    /// <summary>The peer's serving prefix, e.g. <c>https://192.168.1.11:7443/mesh/v1</c>.</summary>
    public required Uri BaseUrl { get; init; }

    public required IReadOnlyList<PeerModel> Models { get; init; }

    /// <summary>Active sequences, queued sequences and slots from its advert.</summary>
    public int ActiveSequences { get; init; }

    public int QueuedSequences { get; init; }

    public int Slots { get; init; }

    /// <summary>0 to 1, from verification (1 until proven otherwise). The default value is 1.</summary>
    public double Reputation { get; init; } = 1;

    public string? Jurisdiction { get; init; }

    public double PricePerMillionTokens { get; init; }

    /// <summary>The backend the router and executor use for this peer (peer defaults; policy overrides by name apply on top).</summary>
    public BackendConfig ToBackend() => BackendConfig.WithKindDefaults(Backend, BackendKind.Peer) with
    {
        BaseUrl = BaseUrl,
        Trusted = Trust == PeerTrust.Trusted,
        PeerTrust = Trust,
        PeerNodeId = NodeId,
        Jurisdiction = Jurisdiction,
        CostPerMillionTokens = PricePerMillionTokens,
        // Our serving code keeps no prompt (receipts hold a hash); whether to believe that is what the trust level decides.
        RetainsData = false,
        Models = [.. Models.Select(m => m.Name)],
    };

    /// <summary>
    /// The plan-step name for a node id: <c>peer-</c> + its first two groups (15 characters, 70 bits: no two admitted
    /// peers share it by accident, and making one collide on purpose costs a key search of that size).
    /// </summary>
    public static string BackendName(string nodeId) => "peer-" + (nodeId.Length >= 15 ? nodeId[..15] : nodeId);
}

/// <summary>The live peers the router may use. Implemented by the gateway over the mesh's peer directory. Thread-safe.</summary>
public interface IPeerCandidateSource
{
    /// <summary>The current candidates (alive, admitted, with an advert).</summary>
    IReadOnlyList<PeerCandidate> Current { get; }

    /// <summary>A candidate by backend name (for a probe or the executor), or null.</summary>
    PeerCandidate? Find(string backend);
}

/// <summary>No mesh: no peers.</summary>
internal sealed class NoPeerCandidates : IPeerCandidateSource
{
    public IReadOnlyList<PeerCandidate> Current => [];

    public PeerCandidate? Find(string backend) => null;
}
