using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// <c>struct llama_context_params</c> (llama.h v0.5.0), field for field; names are the C names.
/// Start from <see cref="LlamaNative.llama_context_default_params"/>, never from <c>default</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LlamaContextParams
{
    public uint n_ctx;
    public uint n_batch;
    public uint n_ubatch;
    public uint n_seq_max;
    public uint n_rs_seq;
    public uint n_outputs_max;
    public uint n_outputs_max_per_seq;
    public int n_threads;
    public int n_threads_batch;

    public LlamaContextType ctx_type;
    public LlamaRopeScalingType rope_scaling_type;
    public LlamaPoolingType pooling_type;
    public LlamaAttentionType attention_type;
    public LlamaFlashAttnType flash_attn_type;

    public float rope_freq_base;
    public float rope_freq_scale;
    public float yarn_ext_factor;
    public float yarn_attn_factor;
    public float yarn_beta_fast;
    public float yarn_beta_slow;
    public uint yarn_orig_ctx;
    public float defrag_thold;

    /// <summary><c>ggml_backend_sched_eval_callback</c>.</summary>
    public IntPtr cb_eval;
    public IntPtr cb_eval_user_data;

    public GgmlType type_k;
    public GgmlType type_v;

    /// <summary><c>ggml_abort_callback</c>: <c>bool (*)(void * data)</c>; true aborts llama_decode.</summary>
    public IntPtr abort_callback;
    public IntPtr abort_callback_data;

    public LlamaBool embeddings;
    public LlamaBool offload_kqv;
    public LlamaBool no_perf;
    public LlamaBool op_offload;
    public LlamaBool swa_full;
    public LlamaBool kv_unified;

    /// <summary><c>struct llama_sampler_seq_config *</c> [EXPERIMENTAL] backend samplers.</summary>
    public IntPtr samplers;
    public nuint n_samplers;

    /// <summary><c>struct llama_context *</c>: a source/target/parent context.</summary>
    public IntPtr ctx_other;
}
