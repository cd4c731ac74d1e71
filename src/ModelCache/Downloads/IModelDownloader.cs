using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.ModelCache.Downloads;

/// <summary>
/// Downloads a model into the store: resumable (Range + If-Range), restarts cleanly when a server ignores Range or the
/// file changed, tries sources in order, hashes while writing, and registers only bytes whose digest matched.
/// Cancelling leaves <c>partial/&lt;key&gt;.part</c> + <c>.json</c> for the next pull to resume. Thread-safe; a pull
/// of a key another pull (any process) is downloading returns <see cref="DownloadError.InProgress"/> at once.
/// </summary>
public interface IModelDownloader
{
    Task<PullResult> PullAsync(PullRequest request, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken);

    /// <summary>Fetches a quarantined or missing file again from its known sources and re-registers its names.</summary>
    Task<PullResult> RefetchAsync(VerifiedFile file, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken);
}

/// <summary>What to download.</summary>
public sealed record PullRequest
{
    /// <summary>The URL and then the mirrors, tried in this order (http or https only).</summary>
    public required IReadOnlyList<Uri> Sources { get; init; }

    public required string Name { get; init; }

    /// <summary>When set, the bytes must hash to this; also the key of the partial file, so any mirror can resume it.</summary>
    public Sha256Digest? ExpectedSha256 { get; init; }

    public ModelLineage? Lineage { get; init; }
}

/// <summary>Progress of one download.</summary>
/// <param name="Source">The URL being read.</param>
/// <param name="BytesDone">Bytes in the partial file (including resumed ones).</param>
/// <param name="BytesTotal">The full size when the server said, else null.</param>
/// <param name="BytesPerSecond">Average speed of the current attempt.</param>
/// <param name="Remaining">Estimated time left, when the size and the speed are known.</param>
public readonly record struct DownloadProgress(Uri Source, long BytesDone, long? BytesTotal, double BytesPerSecond, TimeSpan? Remaining);

/// <summary>Why a pull failed (expected failures are values).</summary>
public enum DownloadError
{
    None,
    InvalidRequest,
    DigestMismatch,
    InvalidGguf,
    AllSourcesFailed,
    Cancelled,

    /// <summary>The store's disk has too little free space (<see cref="DownloadOptions.MinFreeBytes"/>).</summary>
    InsufficientSpace,

    /// <summary>Another pull (this process or another) is writing the same partial file; nothing was changed.</summary>
    InProgress,
}

/// <summary>One attempt at one source, for the report.</summary>
public sealed record DownloadAttempt(Uri Source, string Outcome);

public sealed record PullResult(StoredModel? Model, DownloadError Error, string? Message, IReadOnlyList<DownloadAttempt> Attempts)
{
    public bool Succeeded => Error == DownloadError.None;
}
