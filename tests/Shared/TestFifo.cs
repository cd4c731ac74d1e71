using System.Runtime.InteropServices;

namespace InferenceMesh.Tests;

/// <summary>Named pipes for tests of paths that are not regular files: opening one for reading waits for a writer.</summary>
internal static class TestFifo
{
    private const int ReadOnlyNonBlocking = 0x800; // O_RDONLY | O_NONBLOCK on Linux

    /// <summary>Creates a FIFO (mode 0600) at <paramref name="path"/>.</summary>
    public static void Create(string path)
    {
        if (MakeFifo(path, Convert.ToUInt32("600", 8)) != 0)
        {
            throw new IOException($"mkfifo {path} failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>
    /// Creates a FIFO with a writer waiting to open it that writes nothing: code that opens it for reading gets an
    /// empty file at once instead of waiting forever, so a test of "refused before it is opened" fails instead of
    /// hanging when the code does open it. Disposing lets the writer go whether or not anything opened the FIFO.
    /// </summary>
    public static IDisposable CreateWithWriterWaiting(string path)
    {
        Create(path);
        return new WaitingWriter(path);
    }

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int MakeFifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int descriptor);

    private sealed class WaitingWriter(string path) : IDisposable
    {
        private readonly Task _writer = Task.Factory.StartNew(
            () => new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite).Dispose(), TaskCreationOptions.LongRunning);

        public void Dispose()
        {
            // A non-blocking reader never waits, and it is the reader the writer's open waits for.
            var reader = Open(path, ReadOnlyNonBlocking);
            try
            {
                _writer.GetAwaiter().GetResult();
            }
            finally
            {
                if (reader >= 0)
                {
                    Close(reader);
                }
            }
        }
    }
}
