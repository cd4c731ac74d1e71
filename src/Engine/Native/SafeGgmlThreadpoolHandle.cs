using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// A persistent ggml CPU threadpool, attached to a model's contexts. Without one, ggml creates and joins
/// a throwaway pool inside every llama_decode (a thread spawn per token); llama.cpp's own server attaches
/// a persistent pool the same way. The pool functions live in the dynamically loaded CPU backend, so they
/// are found through <c>ggml_backend_reg_get_proc_address</c>. Release frees the pool: detach it from (or
/// free) every context that uses it first.
/// <para>
/// Its worker threads are named <see cref="ThreadName"/> (they inherit the name of the thread that creates the
/// pool), so <c>top -H</c> shows them. Between decodes they spin for the next step (ggml's polling level, up to about
/// a third of a second at level 100 on the benchmark machine) and only then sleep; <see cref="Pause"/> sends them to
/// sleep at once when the scheduler has nothing left to decode, and ggml wakes them again with the next decode.
/// </para>
/// </summary>
internal sealed unsafe partial class SafeGgmlThreadpoolHandle : SafeHandle
{
    /// <summary>Generous room for <c>struct ggml_threadpool_params</c> (528 bytes in v0.5.0), filled by ggml itself.</summary>
    private const int ParamsBufferSize = 2048;

    /// <summary>
    /// Offsets in <c>struct ggml_threadpool_params</c> (ggml.h v0.5.0: <c>bool cpumask[512]; int n_threads;
    /// enum prio; uint32_t poll; …</c>), checked against the pinned header by StructLayoutTests.
    /// </summary>
    internal const int NThreadsOffset = 512;
    internal const int PollOffset = 520;

    private static int s_created;

    private delegate* unmanaged[Cdecl]<IntPtr, void> _free;

    private delegate* unmanaged[Cdecl]<IntPtr, void> _pause;

    /// <summary>The OS name of the pool's worker threads, unique in the process: <c>im-decode-N</c>.</summary>
    public string ThreadName { get; private init; } = "";

    private SafeGgmlThreadpoolHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>
    /// Creates a pool of n threads, or null when the CPU backend does not offer one. <paramref name="poll"/> is
    /// ggml's polling level for idle workers (0 sleeps at once, 100 spins longest); null keeps ggml's default.
    /// </summary>
    public static SafeGgmlThreadpoolHandle? Create(int threads, int? poll = null)
    {
        var cpu = LlamaNative.ggml_backend_reg_by_name("CPU");
        if (cpu == IntPtr.Zero)
        {
            return null;
        }

        var create = (delegate* unmanaged[Cdecl]<void*, IntPtr>)LlamaNative.ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_new");
        var free = (delegate* unmanaged[Cdecl]<IntPtr, void>)LlamaNative.ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_free");
        if (create == null || free == null)
        {
            return null;
        }

        var parameters = NativeMemory.AllocZeroed(ParamsBufferSize);
        try
        {
            LlamaNative.ggml_threadpool_params_init(parameters, threads);
            if (poll is { } level)
            {
                *(uint*)((byte*)parameters + PollOffset) = (uint)level;
            }
            // Created on a thread of its own, named, because the workers inherit their creator's name.
            var name = $"im-decode-{Interlocked.Increment(ref s_created)}";
            var pool = IntPtr.Zero;
            var createAddress = (IntPtr)create;
            var parametersAddress = (IntPtr)parameters;
            var creator = new Thread(() => pool = ((delegate* unmanaged[Cdecl]<void*, IntPtr>)createAddress)((void*)parametersAddress))
            {
                Name = name,
                IsBackground = true,
            };
            creator.Start();
            creator.Join();
            if (pool == IntPtr.Zero)
            {
                return null;
            }

            var handle = new SafeGgmlThreadpoolHandle { _free = free, _pause = FindPause((IntPtr)create), ThreadName = name };
            handle.SetHandle(pool);
            return handle;
        }
        finally
        {
            NativeMemory.Free(parameters);
        }
    }

    /// <summary>
    /// Sends the workers to sleep now instead of after their polling time; the next decode wakes them (ggml resumes a
    /// paused pool when it hands it work). Call it only from the thread that decodes with the pool. Does nothing where
    /// the CPU backend does not export <c>ggml_threadpool_pause</c>.
    /// </summary>
    public void Pause()
    {
        if (_pause == null)
        {
            return;
        }

        var added = false;
        try
        {
            DangerousAddRef(ref added);
            _pause(handle);
        }
        finally
        {
            if (added)
            {
                DangerousRelease();
            }
        }
    }

    /// <summary>
    /// ggml_threadpool_pause of the CPU backend variant that made the pool. The backend offers it through no
    /// proc-address name, and every libggml-cpu-*.so variant has its own copy, so it is looked up in the very
    /// library that holds <paramref name="create"/> (dladdr names it; loading it again only takes a reference).
    /// </summary>
    private static delegate* unmanaged[Cdecl]<IntPtr, void> FindPause(IntPtr create)
    {
        try
        {
            if (dladdr(create, out var info) == 0 || info.FileName == IntPtr.Zero
                || Marshal.PtrToStringUTF8(info.FileName) is not { Length: > 0 } file
                || !NativeLibrary.TryLoad(file, out var library))
            {
                return null;
            }

            return NativeLibrary.TryGetExport(library, "ggml_threadpool_pause", out var pause)
                ? (delegate* unmanaged[Cdecl]<IntPtr, void>)pause
                : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary><c>Dl_info</c> of dlfcn.h.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct DlInfo
    {
        public IntPtr FileName;
        public IntPtr FileBase;
        public IntPtr SymbolName;
        public IntPtr SymbolAddress;
    }

    [LibraryImport("libc", EntryPoint = "dladdr")]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static partial int dladdr(IntPtr address, out DlInfo info);

    protected override bool ReleaseHandle()
    {
        _free(handle);
        return true;
    }
}
