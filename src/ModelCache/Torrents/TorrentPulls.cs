using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>Why a share or pull did not happen (expected failures are values).</summary>
public enum TorrentError
{
    None,

    /// <summary>The magnet, torrent, name or digest was refused before the engine saw it.</summary>
    InvalidSource,
    NotFound,

    /// <summary>aria2 is missing or did not start.</summary>
    EngineUnavailable,

    /// <summary>The bytes did not hash to the SHA-256 the metadata committed to; nothing was registered.</summary>
    DigestMismatch,
    InvalidGguf,
    NameTaken,

    /// <summary>No metadata or no bytes arrived in time, or aria2 gave up.</summary>
    TransferFailed,
    Cancelled,

    /// <summary>The model is larger than the free space of the models folder's disk (<see cref="TorrentOptions.MinFreeBytes"/> kept free).</summary>
    InsufficientSpace,
}

/// <summary>The state of a pull job.</summary>
public enum TorrentPullState
{
    Metadata,
    Downloading,
    Verifying,
    Done,
    Failed,
}

/// <summary>What to pull: a magnet link or the bytes of a .torrent file, optionally under another name or with a digest to insist on.</summary>
public sealed record TorrentPullRequest
{
    public string? Magnet { get; init; }

    public byte[]? Torrent { get; init; }

    /// <summary>The name to register; the torrent's name when null.</summary>
    public string? Name { get; init; }

    /// <summary>When set, the torrent must carry this digest (and the bytes must hash to it).</summary>
    public Sha256Digest? ExpectedSha256 { get; init; }
}

/// <summary>A snapshot of a pull job.</summary>
public sealed record TorrentPullStatus
{
    public required string Id { get; init; }

    public required TorrentPullState State { get; init; }

    public string? Name { get; init; }

    public string? InfoHash { get; init; }

    public Sha256Digest? Sha256 { get; init; }

    public long BytesDone { get; init; }

    public long? BytesTotal { get; init; }

    public long BytesPerSecond { get; init; }

    public int Peers { get; init; }

    public TorrentError Error { get; init; }

    public string? Message { get; init; }
}

/// <summary>A model this gateway seeds.</summary>
public sealed record SharedModel(string Name, Sha256Digest Sha256, long SizeBytes, string InfoHash, string Magnet, string TorrentPath);

/// <summary>The outcome of a share: the shared model or an error with a message.</summary>
public sealed record ShareResult(SharedModel? Shared, TorrentError Error, string? Message)
{
    public bool Succeeded => Error == TorrentError.None;
}

/// <summary>The outcome of starting a pull: a job id, or why the request was refused.</summary>
public sealed record PullStartResult(string? JobId, TorrentError Error, string? Message)
{
    public bool Succeeded => Error == TorrentError.None;
}

/// <summary>Where torrent files live under the models folder (all built from validated infohashes, names and generated ids).</summary>
internal sealed class TorrentLayout(StoreLayout store)
{
    public string Root { get; } = Path.Combine(store.Root, "torrents");

    /// <summary><c>torrents/shared/&lt;infohash&gt;.torrent</c>: what this gateway seeds; seeded again at start.</summary>
    public string SharedTorrent(string infoHash) => Path.Combine(Root, "shared", infoHash + ".torrent");

    public string SharedFolder => Path.Combine(Root, "shared");

    /// <summary><c>torrents/seed/&lt;infohash&gt;/</c>: one symbolic link named like the torrent, to the blob (read only).</summary>
    public string SeedFolder(string infoHash) => Path.Combine(Root, "seed", infoHash);

    /// <summary><c>torrents/staging/&lt;infohash&gt;/</c>: aria2 downloads here, never into blobs/.</summary>
    public string StagingFolder(string infoHash) => Path.Combine(Root, "staging", infoHash);

    /// <summary><c>torrents/metadata/&lt;job&gt;/</c>: a magnet's metadata, read and checked before any download.</summary>
    public string MetadataFolder(string jobId) => Path.Combine(Root, "metadata", jobId);
}
