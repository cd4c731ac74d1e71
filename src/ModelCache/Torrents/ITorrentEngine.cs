using System.Net;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>
/// A BitTorrent engine the gateway runs as a supervised child process: <see cref="QBittorrentEngine"/> (libtorrent,
/// BitTorrent v1 and v2; the default) or <see cref="Aria2Engine"/> (v1 only). <see cref="ModelTorrents"/> decides what
/// is shared and pulled and checks every byte itself; an engine only moves pieces. Implementations are thread-safe.
/// </summary>
public interface ITorrentEngine : IAsyncDisposable
{
    /// <summary>"qbittorrent" or "aria2" (the <c>--torrent-engine</c> value).</summary>
    string Name { get; }

    /// <summary>Whether the engine handles BitTorrent v2 (BEP 52) torrents; a share then makes v2 torrents.</summary>
    bool SupportsV2 { get; }

    /// <summary>Counts starts of the engine (0 until first use); a pull compares it to notice a restart.</summary>
    int Generation { get; }

    /// <summary>The running engine's process id, or null.</summary>
    int? ProcessId { get; }

    /// <summary>The TCP port the running engine listens on for peers (0 before the first start).</summary>
    int PeerPort { get; }

    /// <summary>Raised after the engine was started again following a crash (not after the first start).</summary>
    event Func<Task>? Restarted;

    /// <summary>Starts the engine unless it runs; throws <see cref="TorrentEngineException"/> with a one-line reason.</summary>
    Task EnsureStartedAsync(CancellationToken cancellationToken);

    /// <summary>Seeds the complete file <c>folder/name</c> (already hashed by us) without checking it; returns the engine's id.</summary>
    Task<string> AddSeedAsync(TorrentMetainfo metainfo, string folder, CancellationToken cancellationToken);

    /// <summary>
    /// Downloads the torrent's file into <paramref name="folder"/>, connecting to <paramref name="peers"/> at once
    /// (besides the torrent's trackers); pieces in order where the engine can. Returns the engine's id.
    /// </summary>
    Task<string> AddDownloadAsync(TorrentMetainfo metainfo, string folder, IReadOnlyList<IPEndPoint> peers, CancellationToken cancellationToken);

    /// <summary>The status of a download or seed, or null when the engine does not know the id (e.g. after a restart).</summary>
    Task<TorrentTransferStatus?> GetStatusAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// How many bytes from the start of the file are verified by the engine and written (whole pieces; the file's
    /// length once every piece is there); 0 when the engine cannot tell.
    /// </summary>
    Task<long> GetVerifiedPrefixAsync(string id, TorrentMetainfo metainfo, CancellationToken cancellationToken);

    /// <summary>
    /// Asks peers for a magnet's metadata (BEP 9) within <see cref="TorrentOptions.MetadataTimeout"/>, using
    /// <paramref name="folder"/> for the engine's files; the bytes are not validated here.
    /// </summary>
    Task<(byte[]? Torrent, string? Error)> FetchMetadataAsync(MagnetLink magnet, string folder, Action<int> peers, CancellationToken cancellationToken);

    /// <summary>Stops a download or seed, keeps its files, and forgets it once the engine has closed them; unknown ids are ignored.</summary>
    Task RemoveAsync(string id, CancellationToken cancellationToken);
}

/// <summary>What an engine reports about one download or seed.</summary>
public sealed record TorrentTransferStatus(TorrentTransferState State, long TotalLength, long CompletedLength, long DownloadSpeed, int Connections, string? ErrorMessage)
{
    public bool IsComplete => State == TorrentTransferState.Complete;

    public bool IsFailed => State == TorrentTransferState.Failed;

    /// <summary>
    /// Whether every piece of a download of <paramref name="length"/> bytes is verified and written. Both engines
    /// count a piece as completed only after its hash matched and it was handed to the file (aria2 flushes its cache
    /// first; libtorrent writes through a shared memory map, which a read sees at once); the state turns complete later.
    /// </summary>
    public bool HasAllBytes(long length) => length > 0 && TotalLength == length && CompletedLength == length && !IsFailed;

    /// <summary>
    /// Whether a download of <paramref name="length"/> bytes is over: the engine says so, its byte count is the length,
    /// or the leading verified pieces (<see cref="ITorrentEngine.GetVerifiedPrefixAsync"/>) cover every byte. The last
    /// one matters for qBittorrent, which counts a v2 torrent's last piece as a whole 16 KiB block: 1 GiB + 128 bytes
    /// showed as 16,256 bytes more than the file, so the count never equals the length.
    /// </summary>
    public bool IsFinished(long length, long verifiedPrefix) =>
        IsComplete || HasAllBytes(length) || (length > 0 && verifiedPrefix >= length && !IsFailed);
}

public enum TorrentTransferState
{
    Active,
    Complete,
    Failed,
}

/// <summary>The engine could not be started or reached; the message is one line for a user.</summary>
public sealed class TorrentEngineException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The engine refused a request (unknown id, refused torrent or option…).</summary>
public sealed class TorrentEngineRefusedException(string message) : Exception(message);
