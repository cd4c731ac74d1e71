using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// <c>struct llama_model_quantize_params</c> (llama.h v0.5.0), field for field. Start from
/// <see cref="LlamaNative.llama_model_quantize_default_params"/>: its type overrides default to
/// <see cref="GgmlType.Count"/> ("no override"), not to F32.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LlamaModelQuantizeParams
{
    public int nthread;
    public LlamaFtype ftype;
    public GgmlType output_tensor_type;
    public GgmlType token_embedding_type;
    public LlamaBool allow_requantize;
    public LlamaBool quantize_output_tensor;
    public LlamaBool only_copy;
    public LlamaBool pure;
    public LlamaBool keep_split;
    public LlamaBool dry_run;

    /// <summary><c>const struct llama_model_imatrix_data *</c>.</summary>
    public IntPtr imatrix;

    /// <summary><c>const struct llama_model_kv_override *</c>.</summary>
    public IntPtr kv_overrides;

    /// <summary><c>const struct llama_model_tensor_override *</c>.</summary>
    public IntPtr tt_overrides;

    /// <summary><c>const int32_t *</c>: layer indices to prune.</summary>
    public IntPtr prune_layers;

    /// <summary>Max bytes of tensor rows kept in memory at once; 0 = default (8 GiB).</summary>
    public nuint max_buf_size;
}
