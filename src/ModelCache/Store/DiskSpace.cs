namespace InferenceMesh.ModelCache.Store;

/// <summary>Free space on the models folder's disk, for downloads and torrent pulls that must not fill it.</summary>
internal static class DiskSpace
{
    /// <summary>Space a download or a torrent pull leaves free by default.</summary>
    public const long DefaultReserveBytes = 512L << 20;

    /// <summary>
    /// Why writing <paramref name="more"/> bytes into <paramref name="folder"/> would leave less than
    /// <paramref name="reserve"/> free (with <paramref name="more"/> 0: why the disk is already below it); null when they
    /// fit or the free space cannot be read (then the write itself reports a full disk).
    /// </summary>
    public static string? Shortfall(string folder, long more, long reserve)
    {
        long free;
        try
        {
            // The folder may not exist yet (it is made on the first write): its nearest existing parent is on the same disk.
            var existing = new DirectoryInfo(folder);
            while (!existing.Exists && existing.Parent is { } parent)
            {
                existing = parent;
            }

            free = new DriveInfo(existing.FullName).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }

        if (free - more >= reserve)
        {
            return null;
        }

        return more > 0
            ? $"not enough disk space: {Format(more)} more are needed, {Format(free)} are free on the models folder's disk, and {Format(reserve)} are kept free"
            : $"the models folder's disk is nearly full ({Format(free)} free, {Format(reserve)} are kept free)";
    }

    private static string Format(long bytes) => bytes >= 1L << 30
        ? $"{bytes / (double)(1L << 30):0.0} GiB"
        : $"{bytes / (double)(1L << 20):0.0} MiB";
}
