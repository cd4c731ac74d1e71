namespace InferenceMesh.ModelCache.Downloads;

/// <summary>Configures <see cref="IModelDownloader"/>. Validated when the downloader is created.</summary>
public sealed record DownloadOptions
{
    /// <summary>
    /// Attempts per source that make no progress before the next source (mirror) is tried; an attempt that received
    /// bytes does not count. The default value is 3.
    /// </summary>
    public int MaxAttemptsPerSource { get; init; } = DownloadDefaults.MaxAttemptsPerSource;

    /// <summary>Wait before retrying a source after a failed attempt (on the injected TimeProvider). The default value is 1 second.</summary>
    public TimeSpan RetryDelay { get; init; } = DownloadDefaults.RetryDelay;

    /// <summary>No byte for this long aborts the attempt (an idle timeout, not a whole-download one). The default value is 60 seconds.</summary>
    public TimeSpan IdleTimeout { get; init; } = DownloadDefaults.IdleTimeout;

    /// <summary>The partial file is fsynced and its sidecar rewritten after this many bytes. The default value is 16 MiB.</summary>
    public long CheckpointBytes { get; init; } = DownloadDefaults.CheckpointBytes;

    /// <summary>
    /// Space a pull leaves free on the store's disk: a file announced larger than what is free minus this is refused
    /// before its first byte, and a body of unknown length stops (its bytes kept to resume) when free space falls
    /// below it, checked at every checkpoint. The default value is 512 MiB.
    /// </summary>
    public long MinFreeBytes { get; init; } = DownloadDefaults.MinFreeBytes;

    /// <summary>Throws <see cref="ArgumentException"/> with the reason when the options cannot work.</summary>
    public void Validate()
    {
        if (MaxAttemptsPerSource < 1)
        {
            throw new ArgumentException("DownloadOptions.MaxAttemptsPerSource must be at least 1.", nameof(MaxAttemptsPerSource));
        }

        if (RetryDelay < TimeSpan.Zero)
        {
            throw new ArgumentException("DownloadOptions.RetryDelay must not be negative.", nameof(RetryDelay));
        }

        if (IdleTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("DownloadOptions.IdleTimeout must be positive.", nameof(IdleTimeout));
        }

        if (CheckpointBytes < 1)
        {
            throw new ArgumentException("DownloadOptions.CheckpointBytes must be positive.", nameof(CheckpointBytes));
        }

        if (MinFreeBytes < 0)
        {
            throw new ArgumentException("DownloadOptions.MinFreeBytes must not be negative.", nameof(MinFreeBytes));
        }
    }
}

internal static class DownloadDefaults
{
    public const int MaxAttemptsPerSource = 3;

    public const long CheckpointBytes = 16L << 20;

    public const long MinFreeBytes = Store.DiskSpace.DefaultReserveBytes;

    public const int BufferBytes = 1 << 16;

    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);
}
