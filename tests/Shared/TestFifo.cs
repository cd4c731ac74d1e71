using System.Runtime.InteropServices;

namespace InferenceMesh.Tests;

/// <summary>Named pipes for tests of paths that are not regular files: opening one for reading waits for a writer.</summary>
internal static class TestFifo
{
    /// <summary>Creates a FIFO (mode 0600) at <paramref name="path"/>.</summary>
    public static void Create(string path)
    {
        if (MakeFifo(path, Convert.ToUInt32("600", 8)) != 0)
        {
            throw new IOException($"mkfifo {path} failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int MakeFifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);
}
