using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// Owns a <c>llama_model*</c>; release calls <c>llama_model_free</c>. Contexts and adapters created
/// from the model hold a reference on this handle, so disposing it while they live only marks it
/// closed: the model is freed when the last of them is released.
/// </summary>
internal sealed class SafeLlamaModelHandle : SafeHandle
{
    private volatile bool _nativeReleased;

    /// <summary>For the interop marshaller only; use <see cref="LoadFromFile"/>.</summary>
    public SafeLlamaModelHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    private SafeLlamaModelHandle(IntPtr model)
        : base(IntPtr.Zero, ownsHandle: true) => SetHandle(model);

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>True once llama_model_free has run (after the handle and every dependant were released).</summary>
    internal bool NativeReleased => _nativeReleased;

    /// <summary>Loads a GGUF model; null when llama.cpp refuses it (the reason is in the llama.cpp log).</summary>
    public static SafeLlamaModelHandle? LoadFromFile(string path, LlamaModelParams parameters)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var model = LlamaNative.llama_model_load_from_file(path, parameters);
        return model == IntPtr.Zero ? null : new SafeLlamaModelHandle(model);
    }

    /// <summary>The model's vocabulary (owned by the model: valid while this handle is).</summary>
    public IntPtr GetVocab() => LlamaNative.llama_model_get_vocab(this);

    protected override bool ReleaseHandle()
    {
        LlamaNative.llama_model_free(handle);
        _nativeReleased = true;
        return true;
    }
}
