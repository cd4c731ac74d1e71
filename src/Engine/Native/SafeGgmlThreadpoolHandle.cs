using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// A persistent ggml CPU threadpool, attached to a model's contexts. Without one, ggml creates and joins
/// a throwaway pool inside every llama_decode (a thread spawn per token); llama.cpp's own server attaches
/// a persistent pool the same way. The pool functions live in the dynamically loaded CPU backend, so they
/// are found through <c>ggml_backend_reg_get_proc_address</c>. Release frees the pool: detach it from (or
/// free) every context that uses it first.
/// </summary>
internal sealed unsafe class SafeGgmlThreadpoolHandle : SafeHandle
{
    /// <summary>Generous room for <c>struct ggml_threadpool_params</c> (528 bytes in v0.5.0), filled by ggml itself.</summary>
    private const int ParamsBufferSize = 2048;

    /// <summary>
    /// Offsets in <c>struct ggml_threadpool_params</c> (ggml.h v0.5.0: <c>bool cpumask[512]; int n_threads;
    /// enum prio; uint32_t poll; …</c>), checked against the pinned header by StructLayoutTests.
    /// </summary>
    internal const int NThreadsOffset = 512;
    internal const int PollOffset = 520;

    private delegate* unmanaged[Cdecl]<IntPtr, void> _free;

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
            var pool = create(parameters);
            if (pool == IntPtr.Zero)
            {
                return null;
            }

            var handle = new SafeGgmlThreadpoolHandle { _free = free };
            handle.SetHandle(pool);
            return handle;
        }
        finally
        {
            NativeMemory.Free(parameters);
        }
    }

    protected override bool ReleaseHandle()
    {
        _free(handle);
        return true;
    }
}
