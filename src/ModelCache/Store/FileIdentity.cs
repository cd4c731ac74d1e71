using System.Runtime.InteropServices;

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

/// <summary>
/// Reads a file's inode and type with stat(2) on 64-bit Linux (st_ino is the second 8-byte field; st_mode follows
/// st_nlink on x86_64, st_ino on aarch64); 0 and null elsewhere.
/// </summary>
public static partial class FileIdentity
{
    private static bool _unavailable = !OperatingSystem.IsLinux() || IntPtr.Size != 8
        || RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64);

    public static unsafe ulong Inode(string path)
    {
        if (_unavailable)
        {
            return 0;
        }

        // struct stat is 144 (x86_64) or 128 (aarch64) bytes; st_dev then st_ino on both.
        var buffer = stackalloc byte[256];
        try
        {
            return Stat(path, buffer) == 0 ? *(ulong*)(buffer + 8) : 0;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _unavailable = true; // glibc before 2.33 exports only __xstat: fall back to size and time
            return 0;
        }
    }

    /// <summary>
    /// True when <paramref name="path"/> (symbolic links followed) is a regular file; false for a directory, FIFO,
    /// device or socket (which have no size: reading /dev/zero never ends, opening a FIFO waits for a writer); null
    /// when it does not exist or stat(2) is not available here.
    /// </summary>
    public static unsafe bool? IsRegularFile(string path)
    {
        if (_unavailable)
        {
            return null;
        }

        const uint typeMask = 0xF000, regular = 0x8000; // S_IFMT, S_IFREG
        var buffer = stackalloc byte[256];
        try
        {
            var modeOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 16;
            return Stat(path, buffer) == 0 ? (*(uint*)(buffer + modeOffset) & typeMask) == regular : null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _unavailable = true;
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* buffer);
}
