using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// Owns a <c>llama_context*</c>; release calls <c>llama_free</c> and then lets go of the model,
/// on which the context holds a reference from creation to release. Not thread-safe: one thread
/// owns a context, and it must not be disposed while a decode runs on it.
/// </summary>
internal sealed class SafeLlamaContextHandle : SafeHandle
{
    private SafeLlamaModelHandle? _model;

    /// <summary>For the interop marshaller only; use <see cref="Create"/>.</summary>
    public SafeLlamaContextHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>The model this context was created from (kept alive by the context).</summary>
    public SafeLlamaModelHandle Model => _model ?? throw new ObjectDisposedException(nameof(SafeLlamaContextHandle));

    /// <summary>Creates a context; null when llama.cpp refuses (e.g. out of memory; the reason is in the log).</summary>
    public static SafeLlamaContextHandle? Create(SafeLlamaModelHandle model, LlamaContextParams parameters)
    {
        ArgumentNullException.ThrowIfNull(model);
        var addedRef = false;
        model.DangerousAddRef(ref addedRef);
        try
        {
            var ctx = LlamaNative.llama_init_from_model(model, parameters);
            if (ctx == IntPtr.Zero)
            {
                return null;
            }

            var result = new SafeLlamaContextHandle();
            result.SetHandle(ctx);
            result._model = model;
            addedRef = false; // the reference now belongs to the context
            return result;
        }
        finally
        {
            if (addedRef)
            {
                model.DangerousRelease();
            }
        }
    }

    /// <summary>The context's memory (KV cache), owned by the context.</summary>
    public IntPtr GetMemory() => LlamaNative.llama_get_memory(this);

    protected override bool ReleaseHandle()
    {
        LlamaNative.llama_free(handle);
        _model?.DangerousRelease();
        _model = null;
        return true;
    }
}
