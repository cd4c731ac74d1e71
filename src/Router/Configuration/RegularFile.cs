using System.Runtime.InteropServices;

namespace InferenceMesh.Configuration;

/// <summary>
/// The one check, made before a file the operator names is opened, that it is a regular file: opening a FIFO for
/// reading waits for a writer (forever when there is none) and a device such as <c>/dev/zero</c> never ends.
/// Uses stat(2) on 64-bit Linux (st_mode follows st_nlink on x86_64, st_ino on aarch64); elsewhere only a directory
/// is refused. Linked into the Router, Mesh and ModelCache projects, which all read files the operator names.
/// </summary>
internal static partial class RegularFile
{
    /// <summary>The reason a FIFO, device or socket is refused (the caller names the file).</summary>
    public const string NotRegular = "is not a regular file (a FIFO, a device or a socket)";

    /// <summary>The reason a directory is refused (the caller names the file).</summary>
    public const string IsDirectory = "is a directory, not a file";

    private const int StatBufferBytes = 256; // struct stat is 144 bytes on x86_64, 128 on aarch64

    private static bool _unavailable = !OperatingSystem.IsLinux() || IntPtr.Size != 8
        || RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64);

    /// <summary>
    /// Why <paramref name="path"/> cannot be read as a file: <see cref="IsDirectory"/>, <see cref="NotRegular"/>, or
    /// null when it is a regular file, does not exist (the caller's open says so) or cannot be examined here.
    /// </summary>
    public static string? Problem(string path) =>
        Directory.Exists(path) ? IsDirectory : Is(path) == false ? NotRegular : null;

    /// <summary>
    /// True when <paramref name="path"/> (symbolic links followed) is a regular file; false for a directory, FIFO,
    /// device or socket; null when it does not exist or stat(2) is not available here.
    /// </summary>
    public static bool? Is(string path)
    {
        const uint typeMask = 0xF000, regular = 0x8000; // S_IFMT, S_IFREG
        var mode = Stat(path, RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 16);
        return mode is { } value ? (value & typeMask) == regular : null;
    }

    /// <summary>The inode of <paramref name="path"/> (symbolic links followed); 0 when unknown.</summary>
    public static ulong Inode(string path) => Stat(path, 8) is { } inode ? inode : 0; // st_dev then st_ino on both

    /// <summary>The 8 bytes at <paramref name="offset"/> in the file's struct stat, or null.</summary>
    private static ulong? Stat(string path, int offset)
    {
        if (_unavailable)
        {
            return null;
        }

        var buffer = Marshal.AllocHGlobal(StatBufferBytes);
        try
        {
            return StatNative(path, buffer) == 0 ? (ulong)Marshal.ReadInt64(buffer, offset) : null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _unavailable = true; // glibc before 2.33 exports only __xstat
            return null;
        }
        finally
        {
            Marshal.FreeHGlobal(buffer);
        }
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatNative(string path, IntPtr buffer);
}
