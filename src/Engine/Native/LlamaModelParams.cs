using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// <c>struct llama_model_params</c> (llama.h v0.5.0), field for field; names are the C names.
/// Start from <see cref="LlamaNative.llama_model_default_params"/>, never from <c>default</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct LlamaModelParams
{
    /// <summary><c>ggml_backend_dev_t *</c>: NULL-terminated device list; NULL = all devices.</summary>
    public IntPtr devices;

    /// <summary><c>const struct llama_model_tensor_buft_override *</c>.</summary>
    public IntPtr tensor_buft_overrides;

    public int n_gpu_layers;
    public LlamaSplitMode split_mode;
    public LlamaLoadMode load_mode;
    public LlamaLazyMode lazy_mode;
    public int main_gpu;

    /// <summary><c>const float *</c>, size llama_max_devices().</summary>
    public float* tensor_split;

    /// <summary><c>llama_progress_callback</c>: <c>bool (*)(float progress, void * user_data)</c>.</summary>
    public IntPtr progress_callback;

    public IntPtr progress_callback_user_data;

    /// <summary><c>const struct llama_model_kv_override *</c>.</summary>
    public IntPtr kv_overrides;

    public LlamaBool vocab_only;
    public LlamaBool check_tensors;
    public LlamaBool use_extra_bufts;
    public LlamaBool no_host;
    public LlamaBool no_alloc;
    public LlamaBool load_mtp;
}
