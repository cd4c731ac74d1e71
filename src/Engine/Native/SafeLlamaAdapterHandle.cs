using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// Owns a <c>llama_adapter_lora*</c>; release calls <c>llama_adapter_lora_free</c> and then lets go of
/// the model, which must outlive the adapter. Remove the adapter from every context
/// (<c>llama_set_adapters_lora</c>) before disposing it.
/// </summary>
internal sealed class SafeLlamaAdapterHandle : SafeHandle
{
    private SafeLlamaModelHandle? _model;

    /// <summary>For the interop marshaller only; use <see cref="Load"/>.</summary>
    public SafeLlamaAdapterHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Loads a LoRA adapter for a model; null when llama.cpp refuses it (the reason is in the log).</summary>
    public static SafeLlamaAdapterHandle? Load(SafeLlamaModelHandle model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var addedRef = false;
        model.DangerousAddRef(ref addedRef);
        try
        {
            var adapter = LlamaNative.llama_adapter_lora_init(model, path);
            if (adapter == IntPtr.Zero)
            {
                return null;
            }

            var result = new SafeLlamaAdapterHandle();
            result.SetHandle(adapter);
            result._model = model;
            addedRef = false;
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

    protected override bool ReleaseHandle()
    {
        LlamaNative.llama_adapter_lora_free(handle);
        _model?.DangerousRelease();
        _model = null;
        return true;
    }
}
