using InferenceMesh.Configuration;

namespace InferenceMesh.ModelCache.Store;

/// <summary>
/// What decides whether a loose file must be hashed again: size, last write time and inode. A file replaced by
/// another of the same size and time (a copy with preserved times, a rename over it) has a new inode.
/// </summary>
public readonly record struct FileStamp(long Length, long LastWriteUtcTicks, ulong Inode)
{
    public static FileStamp Of(string path)
    {
        var info = new FileInfo(path);
        return new FileStamp(info.Length, info.LastWriteTimeUtc.Ticks, FileIdentity.Inode(path));
    }
}

/// <summary>Reads a file's inode and type with stat(2) on 64-bit Linux; 0 and null elsewhere.</summary>
public static class FileIdentity
{
    public static ulong Inode(string path) => RegularFile.Inode(path);

    /// <summary>
    /// True when <paramref name="path"/> (symbolic links followed) is a regular file; false for a directory, FIFO,
    /// device or socket (which have no size: reading /dev/zero never ends, opening a FIFO waits for a writer); null
    /// when it does not exist or stat(2) is not available here.
    /// </summary>
    public static bool? IsRegularFile(string path) => RegularFile.Is(path);
}
