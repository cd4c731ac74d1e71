using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// The raw llama.cpp / ggml C API of the pinned tag (see README.md), each function named exactly as in
/// llama.h / ggml-backend.h. Call <see cref="LlamaLibrary.Initialize"/> once before anything here:
/// it maps the library names "llama", "ggml" and "ggml-base" to the files it loaded.
/// </summary>
/// <remarks>
/// Conventions: objects we own are passed as SafeHandles (model, context, sampler, adapter); the
/// constructors return raw pointers that the SafeHandle factories wrap, and the <c>*_free</c> functions
/// take raw pointers because only <see cref="SafeHandle.ReleaseHandle"/> calls them. Objects owned by
/// another object (vocab: model; memory: context; registries and devices: ggml) are plain
/// <see cref="IntPtr"/>. C <c>bool</c> is one byte; <c>const char *</c> results are <c>byte*</c> that
/// llama.cpp owns (read them with <see cref="NativeText.FromUtf8"/>; never free them).
/// Nothing here is thread-safe unless llama.h says so: one thread owns a context.
/// </remarks>
internal static unsafe partial class LlamaNative
{
    internal const string LlamaLib = "llama";
    internal const string GgmlLib = "ggml";
    internal const string GgmlBaseLib = "ggml-base";

    // ---- defaults and backend ----

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial LlamaModelParams llama_model_default_params();

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial LlamaContextParams llama_context_default_params();

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial LlamaSamplerChainParams llama_sampler_chain_default_params();

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial LlamaModelQuantizeParams llama_model_quantize_default_params();

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_backend_init();

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_backend_free();

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial byte* llama_print_system_info();

    /// <summary>Routes llama.cpp and ggml logging (it calls ggml_log_set too). Global, not thread-safe.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_log_set(delegate* unmanaged[Cdecl]<GgmlLogLevel, byte*, void*, void> log_callback, void* user_data);

    /// <summary>Reads the installed log callback (to check that ours is in place).</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_log_get(delegate* unmanaged[Cdecl]<GgmlLogLevel, byte*, void*, void>* log_callback, void** user_data);

    // ---- model ----

    /// <summary>Returns NULL on failure (the reason goes to the log).</summary>
    [LibraryImport(LlamaLib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_model_load_from_file(string path_model, LlamaModelParams @params);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_model_free(IntPtr model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_model_get_vocab(SafeLlamaModelHandle model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_model_n_ctx_train(SafeLlamaModelHandle model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_model_n_embd(SafeLlamaModelHandle model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_model_n_layer(SafeLlamaModelHandle model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_model_n_head(SafeLlamaModelHandle model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_model_n_head_kv(SafeLlamaModelHandle model);

    /// <summary>Sliding-window size, 0 when the model has no SWA layers.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_model_n_swa(SafeLlamaModelHandle model);

    /// <summary>Recurrent models (Mamba, RWKV) cannot remove a partial sequence from memory.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool llama_model_is_recurrent(SafeLlamaModelHandle model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool llama_model_is_hybrid(SafeLlamaModelHandle model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial ulong llama_model_n_params(SafeLlamaModelHandle model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial ulong llama_model_size(SafeLlamaModelHandle model);

    /// <summary>Length of the value, or -1 when the key is missing. buf is always NUL-terminated.</summary>
    [LibraryImport(LlamaLib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_model_meta_val_str(SafeLlamaModelHandle model, string key, byte* buf, nuint buf_size);

    /// <summary>NULL when the model has no such template; name NULL = the default template.</summary>
    [LibraryImport(LlamaLib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial byte* llama_model_chat_template(SafeLlamaModelHandle model, string? name);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_model_desc(SafeLlamaModelHandle model, byte* buf, nuint buf_size);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial LlamaFtype llama_model_ftype(SafeLlamaModelHandle model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial byte* llama_ftype_name(LlamaFtype ftype);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool llama_model_has_encoder(SafeLlamaModelHandle model);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool llama_model_has_decoder(SafeLlamaModelHandle model);

    /// <summary>Returns 0 on success.</summary>
    [LibraryImport(LlamaLib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial uint llama_model_quantize(string fname_inp, string fname_out, LlamaModelQuantizeParams* @params);

    // ---- LoRA adapters ----

    /// <summary>Returns NULL on failure. The adapter is valid while its model lives.</summary>
    [LibraryImport(LlamaLib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_adapter_lora_init(SafeLlamaModelHandle model, string path_lora);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_adapter_lora_free(IntPtr adapter);

    /// <summary>Sets the context's adapters (replacing the previous set); adapters is an array of llama_adapter_lora*.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_set_adapters_lora(SafeLlamaContextHandle ctx, IntPtr* adapters, nuint n_adapters, float* scales);

    // ---- context ----

    /// <summary>Returns NULL on failure.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_init_from_model(SafeLlamaModelHandle model, LlamaContextParams @params);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_free(IntPtr ctx);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial uint llama_n_ctx(SafeLlamaContextHandle ctx);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial uint llama_n_ctx_seq(SafeLlamaContextHandle ctx);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial uint llama_n_batch(SafeLlamaContextHandle ctx);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial uint llama_n_ubatch(SafeLlamaContextHandle ctx);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial uint llama_n_seq_max(SafeLlamaContextHandle ctx);

    /// <summary>The context's memory (KV cache); owned by the context.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_get_memory(SafeLlamaContextHandle ctx);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial LlamaPoolingType llama_pooling_type(SafeLlamaContextHandle ctx);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_set_n_threads(SafeLlamaContextHandle ctx, int n_threads, int n_threads_batch);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_set_embeddings(SafeLlamaContextHandle ctx, [MarshalAs(UnmanagedType.U1)] bool embeddings);

    /// <summary>abort_callback returns non-zero (C true) to abort the running llama_decode; it runs on the decoding thread.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_set_abort_callback(SafeLlamaContextHandle ctx, delegate* unmanaged[Cdecl]<void*, byte> abort_callback, void* abort_callback_data);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_synchronize(SafeLlamaContextHandle ctx);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial LlamaPerfContextData llama_perf_context(SafeLlamaContextHandle ctx);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_perf_context_reset(SafeLlamaContextHandle ctx);

    // ---- memory (KV cache) ----

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_memory_clear(IntPtr mem, [MarshalAs(UnmanagedType.U1)] bool data);

    /// <summary>Removes seq_id's tokens with positions in [p0, p1); false if a partial removal is impossible.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool llama_memory_seq_rm(IntPtr mem, int seq_id, int p0, int p1);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_memory_seq_cp(IntPtr mem, int seq_id_src, int seq_id_dst, int p0, int p1);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_memory_seq_keep(IntPtr mem, int seq_id);

    /// <summary>-1 when the sequence is empty.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_memory_seq_pos_min(IntPtr mem, int seq_id);

    /// <summary>-1 when the sequence is empty.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_memory_seq_pos_max(IntPtr mem, int seq_id);

    // ---- vocab and tokens ----

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_vocab_n_tokens(IntPtr vocab);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_vocab_bos(IntPtr vocab);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_vocab_eos(IntPtr vocab);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool llama_vocab_is_eog(IntPtr vocab, int token);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool llama_vocab_get_add_bos(IntPtr vocab);

    /// <summary>Number of tokens written; negative = -(tokens needed) when n_tokens_max is too small; INT32_MIN on overflow.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_tokenize(
        IntPtr vocab,
        byte* text,
        int text_len,
        int* tokens,
        int n_tokens_max,
        [MarshalAs(UnmanagedType.U1)] bool add_special,
        [MarshalAs(UnmanagedType.U1)] bool parse_special);

    /// <summary>Bytes written (no NUL terminator); negative = -(bytes needed).</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_token_to_piece(
        IntPtr vocab,
        int token,
        byte* buf,
        int length,
        int lstrip,
        [MarshalAs(UnmanagedType.U1)] bool special);

    /// <summary>Bytes written; negative = -(bytes needed).</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_detokenize(
        IntPtr vocab,
        int* tokens,
        int n_tokens,
        byte* text,
        int text_len_max,
        [MarshalAs(UnmanagedType.U1)] bool remove_special,
        [MarshalAs(UnmanagedType.U1)] bool unparse_special);

    /// <summary>
    /// Total bytes of the formatted prompt (may exceed length: grow buf and call again); negative when the
    /// template is not supported. tmpl is a template text or a built-in template name.
    /// </summary>
    [LibraryImport(LlamaLib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_chat_apply_template(
        string? tmpl,
        LlamaChatMessage* chat,
        nuint n_msg,
        [MarshalAs(UnmanagedType.U1)] bool add_ass,
        byte* buf,
        int length);

    // ---- batches, decoding, outputs ----

    /// <summary>Allocates a batch (all members uninitialised); free it with <see cref="llama_batch_free"/>.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial LlamaBatch llama_batch_init(int n_tokens, int embd, int n_seq_max);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_batch_free(LlamaBatch batch);

    /// <summary>0 ok; 1 no KV slot; 2 aborted; -1 invalid batch; &lt; -1 fatal.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_decode(SafeLlamaContextHandle ctx, LlamaBatch batch);

    /// <summary>0 ok; &lt; 0 error.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_encode(SafeLlamaContextHandle ctx, LlamaBatch batch);

    /// <summary>Logits (n_vocab floats) of the i-th batch token (negative counts from the end); NULL for an invalid i.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial float* llama_get_logits_ith(SafeLlamaContextHandle ctx, int i);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial float* llama_get_embeddings_ith(SafeLlamaContextHandle ctx, int i);

    /// <summary>Pooled embedding (n_embd floats) of a sequence; NULL when pooling is NONE.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial float* llama_get_embeddings_seq(SafeLlamaContextHandle ctx, int seq_id);

    // ---- samplers ----

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_sampler_chain_init(LlamaSamplerChainParams @params);

    /// <summary>The chain takes ownership of smpl and frees it with itself.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_sampler_chain_add(SafeLlamaSamplerHandle chain, IntPtr smpl);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_sampler_init_greedy();

    /// <summary>seed 0xFFFFFFFF (LLAMA_DEFAULT_SEED) = random.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_sampler_init_dist(uint seed);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_sampler_init_top_k(int k);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_sampler_init_top_p(float p, nuint min_keep);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_sampler_init_min_p(float p, nuint min_keep);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_sampler_init_temp(float t);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_sampler_init_penalties(int n_vocab, int penalty_last_n, float penalty_repeat, float penalty_freq, float penalty_present);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_sampler_init_logit_bias(int n_vocab, int n_logit_bias, LlamaLogitBias* logit_bias);

    /// <summary>A GBNF grammar sampler; NULL when grammar_str does not parse (llama.cpp logs why).</summary>
    [LibraryImport(LlamaLib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr llama_sampler_init_grammar(IntPtr vocab, string grammar_str, string grammar_root);

    /// <summary>Samples and accepts a token from the idx-th output of the last decode.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int llama_sampler_sample(SafeLlamaSamplerHandle smpl, SafeLlamaContextHandle ctx, int idx);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_sampler_accept(SafeLlamaSamplerHandle smpl, int token);

    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_sampler_reset(SafeLlamaSamplerHandle smpl);

    /// <summary>Never call on a sampler that a chain owns.</summary>
    [LibraryImport(LlamaLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void llama_sampler_free(IntPtr smpl);

    // ---- ggml backends (libggml: registry and loading; libggml-base: names) ----

    /// <summary>Loads the best variant of every backend found in dir_path (for the CPU: the best libggml-cpu-*.so).</summary>
    [LibraryImport(GgmlLib, StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void ggml_backend_load_all_from_path(string? dir_path);

    [LibraryImport(GgmlLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial nuint ggml_backend_reg_count();

    [LibraryImport(GgmlLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr ggml_backend_reg_get(nuint index);

    [LibraryImport(GgmlBaseLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial byte* ggml_backend_reg_name(IntPtr reg);

    [LibraryImport(GgmlLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial nuint ggml_backend_dev_count();

    [LibraryImport(GgmlLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial IntPtr ggml_backend_dev_get(nuint index);

    [LibraryImport(GgmlBaseLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial byte* ggml_backend_dev_name(IntPtr device);

    [LibraryImport(GgmlBaseLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial byte* ggml_backend_dev_description(IntPtr device);

    [LibraryImport(GgmlBaseLib)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial GgmlBackendDevType ggml_backend_dev_type(IntPtr device);
}
