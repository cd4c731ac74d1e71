using InferenceMesh.Mesh.Identity;

namespace InferenceMesh.Mesh.Trust;

/// <summary>
/// How much this node trusts another node, per node id (config <c>mesh.trust</c>).
/// Part 2 (routing) decides which privacy levels may go to which level; part 1 only admits or refuses.
/// </summary>
public enum TrustLevel
{
    /// <summary>An unlisted node admitted because <c>mesh.admission</c> is <c>open</c>: public requests only.</summary>
    Open,

    /// <summary>A known node (listed, or added by <c>mesh join</c>) that is not trusted with private data.</summary>
    Community,

    /// <summary>A node this operator controls or vouches for: may receive what the policy allows for trusted peers.</summary>
    Trusted,
}

/// <summary>Who may talk to this node at all.</summary>
public enum MeshAdmission
{
    /// <summary>Only listed ids (config trust list or joined invites); every other id is refused at the TLS handshake. The default.</summary>
    Listed,

    /// <summary>Any id with a valid self-signed certificate is admitted; unlisted ids get <see cref="TrustLevel.Open"/>.</summary>
    Open,
}

/// <summary>One entry of the trust list.</summary>
public sealed record TrustEntry(NodeId Id, TrustLevel Level)
{
    /// <summary>This peer's own quota when the entry sets <c>concurrent</c> or <c>tokensPerMinute</c>; null uses <c>mesh.quota</c>.</summary>
    public Serving.PeerQuota? Quota { get; init; }
}

/// <summary>Resolves a node id to its trust level, or refuses it. Immutable and thread-safe.</summary>
public sealed class TrustPolicy
{
    private readonly Dictionary<NodeId, TrustLevel> _levels = [];

    /// <param name="configured">The config's list; it wins over <paramref name="invited"/>.</param>
    /// <param name="invited">Ids added by <c>mesh join</c>: community unless the config says otherwise.</param>
    public TrustPolicy(MeshAdmission admission, IEnumerable<TrustEntry> configured, IEnumerable<NodeId>? invited = null)
    {
        Admission = admission;
        foreach (var id in invited ?? [])
        {
            _levels[id] = TrustLevel.Community;
        }

        foreach (var entry in configured)
        {
            _levels[entry.Id] = entry.Level;
        }
    }

    public MeshAdmission Admission { get; }

    /// <summary>The level of <paramref name="id"/>, or null when it is refused.</summary>
    public TrustLevel? Resolve(NodeId id) =>
        _levels.TryGetValue(id, out var level) ? level : Admission == MeshAdmission.Open ? TrustLevel.Open : null;

    public static string ToWire(TrustLevel? level) => level switch
    {
        TrustLevel.Trusted => "trusted",
        TrustLevel.Community => "community",
        TrustLevel.Open => "open",
        _ => "refused",
    };
}
