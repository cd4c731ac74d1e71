using System.Net;
using InferenceMesh.Mesh.Trust;

namespace InferenceMesh.Mesh.Configuration;

/// <summary>The <c>mesh:</c> block of the gateway config. Immutable; see <see cref="MeshDefaults"/> for defaults.</summary>
public sealed record MeshOptions
{
    /// <summary>Address and port of the mTLS listener (<c>mesh.listen</c>, required). Port 0 picks a free one (tests).</summary>
    public required IPEndPoint Listen { get; init; }

    /// <summary>Serf's gossip bind address (<c>mesh.gossip</c>). The default value is the listen IP, port + 1 (a free port when listen's port is 0).</summary>
    public IPEndPoint? Gossip { get; init; }

    /// <summary>Gossip addresses (host:port) joined on start (<c>mesh.bootstrap</c>). The default value is empty.</summary>
    public IReadOnlyList<string> Bootstrap { get; init; } = [];

    /// <summary>Trust per node id (<c>mesh.trust</c>). The default value is empty.</summary>
    public IReadOnlyList<TrustEntry> Trust { get; init; } = [];

    /// <summary>Who is admitted (<c>mesh.admission</c>: listed | open). The default value is <see cref="MeshAdmission.Listed"/>.</summary>
    public MeshAdmission Admission { get; init; } = MeshAdmission.Listed;

    /// <summary>Data folder (<c>mesh.dataDir</c> or <c>--data</c>). The default value is <see cref="MeshDefaults.DataDirectory"/>.</summary>
    public string DataDirectory { get; init; } = MeshDefaults.DataDirectory();

    /// <summary>The node key (<c>mesh.keyFile</c>). The default value is <c>{DataDirectory}/node.key</c>.</summary>
    public string? KeyFile { get; init; }

    /// <summary>Serf's gossip encryption key, base64 of 16, 24 or 32 bytes (<c>mesh.gossipKey</c>), the same on every node. The default value is null: gossip is not encrypted (membership only; adverts always go over mTLS).</summary>
    public string? GossipKey { get; init; }

    /// <summary>Advertised price per million tokens (<c>mesh.pricePerMillionTokens</c>). The default value is 0.</summary>
    public decimal PricePerMillionTokens { get; init; }

    /// <summary>Advertised jurisdiction, e.g. "EU" (<c>mesh.jurisdiction</c>). The default value is null (unknown).</summary>
    public string? Jurisdiction { get; init; }

    /// <summary>The serf executable (<c>mesh.serf</c>). The default value is "serf" (on PATH).</summary>
    public string SerfExecutable { get; init; } = MeshDefaults.SerfExecutable;

    /// <summary>Adverts of every peer are fetched again after this (<c>mesh.advertRefreshSeconds</c>). The default value is 30 s.</summary>
    public TimeSpan AdvertRefreshInterval { get; init; } = MeshDefaults.AdvertRefreshInterval;

    /// <summary>Failed members are removed after this (<c>mesh.reapAfterSeconds</c>, serf's reconnect_timeout). The default value is 24 h.</summary>
    public TimeSpan ReapAfter { get; init; } = MeshDefaults.ReapAfter;

    /// <summary>Validity of the self-signed certificate, renewed on start and at half-life. The default value is 7 days.</summary>
    public TimeSpan CertificateValidity { get; init; } = MeshDefaults.CertificateValidity;

    /// <summary>Leave the mesh gracefully on shutdown (peers see "left"); false kills the agent (peers see "failed"). The default value is true.</summary>
    public bool LeaveOnShutdown { get; init; } = true;

    /// <summary>Default per-peer quota (<c>mesh.quota: {concurrent, tokensPerMinute}</c>); a trust entry may set its own. The default value is 4 concurrent, 100000 tokens per minute.</summary>
    public Serving.PeerQuota Quota { get; init; } = new();

    /// <summary>Share 0..1 of greedy (temperature 0) requests answered by a peer that also run locally and are compared (<c>mesh.verifyShare</c>). The default value is 0.05.</summary>
    public double VerifyShare { get; init; } = MeshDefaults.VerifyShare;

    /// <summary>
    /// The gossip address the config fixes: <c>mesh.gossip</c> with a port, else the listen IP at the listen port + 1
    /// when that port is fixed (and below 65535). Null when a free port is picked at start (<c>mesh.gossip</c> with port 0, or listen port 0).
    /// </summary>
    public IPEndPoint? FixedGossip => Gossip switch
    {
        { Port: > 0 } gossip => gossip,
        null when Listen.Port is > 0 and < IPEndPoint.MaxPort => new IPEndPoint(Listen.Address, Listen.Port + MeshDefaults.GossipPortOffset),
        _ => null,
    };

    public string ResolvedKeyFile => KeyFile ?? Path.Combine(DataDirectory, MeshDefaults.KeyFileName);

    public string StateFile => Path.Combine(DataDirectory, MeshDefaults.StateFileName);

    public string SerfDirectory => Path.Combine(DataDirectory, MeshDefaults.SerfFolderName);
}
