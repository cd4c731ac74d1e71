namespace InferenceMesh.ModelCache.Torrents;

/// <summary>BitTorrent distribution settings. Immutable; <see cref="Validate"/> is called when the service is built.</summary>
public sealed record TorrentOptions
{
    /// <summary>
    /// The engine: "qbittorrent" (qbittorrent-nox, libtorrent; BitTorrent v2) or "aria2" (v1 only). The default value
    /// is "qbittorrent".
    /// </summary>
    public string Engine { get; init; } = TorrentDefaults.Engine;

    /// <summary>The qbittorrent-nox executable (a name on PATH or a path). The default value is "qbittorrent-nox".</summary>
    public string QBittorrentExecutable { get; init; } = TorrentDefaults.QBittorrentExecutable;

    /// <summary>
    /// The folder the qBittorrent engine keeps its profile in (config, session state; emptied at each start). Null
    /// uses a new temporary folder per start. The default value is null (the gateway sets <c>torrents/qbittorrent</c>
    /// under the models folder).
    /// </summary>
    public string? EngineFolder { get; init; }

    /// <summary>
    /// The piece size of torrents a share makes, a power of two from 16 KiB to 64 MiB; 0 chooses: 16 MiB for v2,
    /// about 1000-2000 pieces for v1. The default value is 0.
    /// </summary>
    public int PieceLength { get; init; }

    /// <summary>The aria2 executable (a name on PATH or a path). The default value is "aria2c".</summary>
    public string Aria2Executable { get; init; } = TorrentDefaults.Aria2Executable;

    /// <summary>Whether aria2's DHT (and local peer discovery) is on. Private torrents never use it. The default value is false.</summary>
    public bool EnableDht { get; init; }

    /// <summary>TCP port for BitTorrent peers (and UDP for DHT); 0 picks a free one. The default value is 0.</summary>
    public int ListenPort { get; init; }

    /// <summary>How long to wait for aria2's RPC after starting it. The default value is 15 s.</summary>
    public TimeSpan StartTimeout { get; init; } = TorrentDefaults.StartTimeout;

    /// <summary>A download with no bytes for this long fails (aria2's bt-stop-timeout). The default value is 10 minutes.</summary>
    public TimeSpan StallTimeout { get; init; } = TorrentDefaults.StallTimeout;

    /// <summary>How long a magnet may wait for its metadata from peers. The default value is 5 minutes.</summary>
    public TimeSpan MetadataTimeout { get; init; } = TorrentDefaults.MetadataTimeout;

    /// <summary>Whether a pulled model is seeded from the store afterwards, so the swarm grows. The default value is true.</summary>
    public bool SeedAfterPull { get; init; } = true;

    /// <summary>The announce interval the gateway's tracker asks for. The default value is 60 s.</summary>
    public TimeSpan TrackerInterval { get; init; } = TorrentDefaults.TrackerInterval;

    /// <summary>
    /// Space a pull leaves free on the models folder's disk: a torrent larger than the free space minus this is refused
    /// before the engine sees it. The default value is 512 MiB.
    /// </summary>
    public long MinFreeBytes { get; init; } = Store.DiskSpace.DefaultReserveBytes;

    /// <summary>Null when valid, else a one-line message.</summary>
    public string? Validate()
    {
        if (Engine is not (TorrentEngines.QBittorrent or TorrentEngines.Aria2))
        {
            return $"the BitTorrent engine must be {TorrentEngines.QBittorrent} or {TorrentEngines.Aria2} (got '{Engine}')";
        }

        if (string.IsNullOrWhiteSpace(Aria2Executable) || string.IsNullOrWhiteSpace(QBittorrentExecutable))
        {
            return "the aria2 and qbittorrent-nox executables must be named";
        }

        if (PieceLength != 0 && (PieceLength is < TorrentMetainfo.MinPieceLength or > TorrentMetainfo.MaxPieceLength || !int.IsPow2(PieceLength)))
        {
            return $"the piece length must be 0 or a power of two from {TorrentMetainfo.MinPieceLength} to {TorrentMetainfo.MaxPieceLength} (got {PieceLength})";
        }

        if (ListenPort is < 0 or > 65535)
        {
            return $"the BitTorrent listen port must be from 0 to 65535 (got {ListenPort})";
        }

        if (StartTimeout <= TimeSpan.Zero || StallTimeout < TimeSpan.FromSeconds(1) || MetadataTimeout < TimeSpan.FromSeconds(1) || TrackerInterval < TimeSpan.FromSeconds(1))
        {
            return "torrent timeouts and the tracker interval must be at least 1 second";
        }

        if (MinFreeBytes < 0)
        {
            return $"the free space kept on the models folder's disk must not be negative (got {MinFreeBytes})";
        }

        return null;
    }
}

/// <summary>The names of the engines (<see cref="TorrentOptions.Engine"/>).</summary>
public static class TorrentEngines
{
    public const string QBittorrent = "qbittorrent";

    public const string Aria2 = "aria2";
}

internal static class TorrentDefaults
{
    public const string Engine = TorrentEngines.QBittorrent;

    public const string QBittorrentExecutable = "qbittorrent-nox";

    public const string Aria2Executable = "aria2c";

    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

    public static readonly TimeSpan StallTimeout = TimeSpan.FromMinutes(10);

    public static readonly TimeSpan MetadataTimeout = TimeSpan.FromMinutes(5);

    public static readonly TimeSpan TrackerInterval = TimeSpan.FromSeconds(60);

    public static readonly TimeSpan RestartBackoffMin = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan RestartBackoffMax = TimeSpan.FromSeconds(30);

    /// <summary>How often pull jobs ask the engine for progress.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
}
