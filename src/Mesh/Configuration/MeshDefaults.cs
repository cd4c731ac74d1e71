namespace InferenceMesh.Mesh.Configuration;

/// <summary>Every default of the mesh, in one place.</summary>
public static class MeshDefaults
{
    /// <summary><c>$XDG_DATA_HOME/inference-mesh</c>, else <c>~/.local/share/inference-mesh</c>.</summary>
    public static string DataDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        var root = string.IsNullOrWhiteSpace(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share")
            : xdg;
        return Path.Combine(root, "inference-mesh");
    }

    public const string KeyFileName = "node.key";
    public const string StateFileName = "mesh-state.json";
    public const string SerfFolderName = "serf";

    /// <summary>The serf executable (Debian package <c>serf</c>).</summary>
    public const string SerfExecutable = "serf";

    /// <summary>Gossip port = mesh listen port + this, when <c>mesh.gossip</c> is absent.</summary>
    public const int GossipPortOffset = 1;

    public static readonly TimeSpan CertificateValidity = TimeSpan.FromDays(7);
    public static readonly TimeSpan AdvertRefreshInterval = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan AdvertTimeout = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan RestartBackoffMin = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan RestartBackoffMax = TimeSpan.FromSeconds(30);
    /// <summary>How long the handshake and auth with serf's RPC may take once connected (a port held by another process may never answer).</summary>
    public static readonly TimeSpan RpcReadyTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Requests of one peer served at the same time (<c>mesh.quota.concurrent</c>).</summary>
    public const int QuotaConcurrent = 4;

    /// <summary>Tokens (prompt + completion) served to one peer per minute (<c>mesh.quota.tokensPerMinute</c>).</summary>
    public const int QuotaTokensPerMinute = 100_000;

    /// <summary>Share of greedy requests answered by a peer that are run again locally and compared (<c>mesh.verifyShare</c>).</summary>
    public const double VerifyShare = 0.05;

    /// <summary>Largest chat body a peer may send to the mesh listener.</summary>
    public const long MaxPeerRequestBytes = 4 * 1024 * 1024;

    /// <summary>serf's <c>reconnect_timeout</c>: a failed member is reaped (removed) after this. Serf's default is 24 h.</summary>
    public static readonly TimeSpan ReapAfter = TimeSpan.FromHours(24);
}
