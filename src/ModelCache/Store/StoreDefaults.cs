namespace InferenceMesh.ModelCache.Store;

internal static class StoreDefaults
{
    /// <summary>Read size when hashing; large enough that syscalls do not matter, small enough for the LOH once.</summary>
    public const int HashBufferBytes = 1 << 20;

    /// <summary>How long a connection waits for another writer of the manifest before failing.</summary>
    public const int BusyTimeoutMilliseconds = 10_000;

    public const string LooseExtension = ".gguf";

    /// <summary>A temp file in blobs/ this old is a crashed writer's and is deleted by a verify.</summary>
    public static readonly TimeSpan StaleTempAge = TimeSpan.FromDays(1);
}
