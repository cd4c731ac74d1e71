using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

internal static unsafe partial class LlamaNative
{
    /// <summary>A registered backend by name ("CPU"), or zero.</summary>
    [LibraryImport(GgmlLib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr ggml_backend_reg_by_name(string name);

    /// <summary>A function a dynamically loaded backend exports (e.g. the CPU backend's "ggml_threadpool_new"), or zero.</summary>
    [LibraryImport(GgmlBaseLib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr ggml_backend_reg_get_proc_address(IntPtr reg, string name);

    /// <summary>Fills a <c>struct ggml_threadpool_params</c> with defaults (hybrid polling) for n threads.</summary>
    [LibraryImport(GgmlBaseLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void ggml_threadpool_params_init(void* p, int n_threads);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_attach_threadpool(SafeLlamaContextHandle ctx, IntPtr threadpool, IntPtr threadpool_batch);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_detach_threadpool(SafeLlamaContextHandle ctx);
}
