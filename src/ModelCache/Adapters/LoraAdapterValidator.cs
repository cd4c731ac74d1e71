using InferenceMesh.ModelCache.Gguf;

namespace InferenceMesh.ModelCache.Adapters;

/// <summary>What the managed checks found in a valid LoRA adapter.</summary>
/// <param name="Architecture">general.architecture (equal to the base model's).</param>
/// <param name="Alpha">adapter.lora.alpha, or null when absent (llama.cpp then uses the scale as given).</param>
/// <param name="Rank">The rank of the first pair (all pairs may differ; llama.cpp scales each by its own).</param>
/// <param name="TensorPairs">How many base weights the adapter changes.</param>
public sealed record LoraAdapterInfo(string Architecture, float? Alpha, int Rank, int TensorPairs);

/// <summary>
/// Checks a LoRA adapter GGUF against its base model in managed code, before llama.cpp sees it: llama.cpp aborts the
/// process (GGML_ASSERT) when a key it reads has another type, and throws (refusing the adapter) on the rest. The rules
/// follow <c>llama_adapter_lora_init_impl</c> of v0.5.0 (src/llama-adapter.cpp), plus limits of our own.
/// </summary>
public static class LoraAdapterValidator
{
    /// <summary>Tensor types accepted for A and B (llama.cpp multiplies them with ggml_mul_mat on any backend).</summary>
    public static readonly IReadOnlySet<GgmlType> AcceptedTypes = new HashSet<GgmlType> { GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0 };

    private const string LoraA = ".lora_a";
    private const string LoraB = ".lora_b";

    /// <summary>Whether a GGUF declares itself an adapter (general.type = "adapter"): never served as a model.</summary>
    public static bool IsAdapter(GgufFile file) =>
        file.TryGetString("general.type", out var type) && string.Equals(type, "adapter", StringComparison.Ordinal);

    /// <summary>The adapter's facts, or why llama.cpp must not be given it (a message naming the key or tensor).</summary>
    public static (LoraAdapterInfo? Info, string? Error) Validate(GgufFile adapter, GgufFile baseModel)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(baseModel);

        // Keys llama.cpp reads with gguf_get_val_str / gguf_get_val_f32: another type aborts the process.
        foreach (var key in new[] { "general.type", "general.architecture", "adapter.type" })
        {
            if (adapter.TryGetEntry(key, out var entry) && entry.Type != GgufValueType.String)
            {
                return Fail($"{key} must be a string, not {entry.Type}");
            }
        }

        if (!IsAdapter(adapter))
        {
            return Fail(adapter.TryGetString("general.type", out var type)
                ? $"general.type is '{GgufText.Printable(type)}', not 'adapter' (is this a model?)"
                : "general.type is missing (an adapter says 'adapter')");
        }

        if (!adapter.TryGetString("adapter.type", out var adapterType) || adapterType != "lora")
        {
            return Fail(adapterType is null ? "adapter.type is missing (expected 'lora')" : $"adapter.type is '{GgufText.Printable(adapterType)}', not 'lora'");
        }

        if (string.IsNullOrEmpty(adapter.Architecture))
        {
            return Fail("general.architecture is missing");
        }

        if (!string.Equals(adapter.Architecture, baseModel.Architecture, StringComparison.Ordinal))
        {
            return Fail($"the adapter is for architecture '{GgufText.Printable(adapter.Architecture)}', the base model is '{GgufText.Printable(baseModel.Architecture ?? "?")}'");
        }

        float? alpha = null;
        if (adapter.TryGetEntry("adapter.lora.alpha", out var alphaEntry))
        {
            if (alphaEntry.Type != GgufValueType.Float32 || !adapter.TryGetFloat32("adapter.lora.alpha", out var value))
            {
                return Fail($"adapter.lora.alpha must be a float32, not {alphaEntry.Type}");
            }

            if (!float.IsFinite(value))
            {
                return Fail("adapter.lora.alpha is not a finite number");
            }

            alpha = value;
        }

        if (adapter.TryGetEntry("adapter.alora.invocation_tokens", out var invocation)
            && (invocation.Type != GgufValueType.Array || invocation.Value is not GgufArray { ElementType: GgufValueType.UInt32 }))
        {
            return Fail("adapter.alora.invocation_tokens must be an array of uint32");
        }

        if (adapter.HasNestedArrays)
        {
            return Fail("the metadata has nested arrays, which llama.cpp does not load");
        }

        var baseTensors = baseModel.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var pairs = new Dictionary<string, (GgufTensorInfo? A, GgufTensorInfo? B)>(StringComparer.Ordinal);
        foreach (var tensor in adapter.Tensors)
        {
            var name = tensor.Name;
            if (name.EndsWith(LoraA, StringComparison.Ordinal))
            {
                var target = name[..^LoraA.Length];
                pairs[target] = (tensor, pairs.GetValueOrDefault(target).B);
            }
            else if (name.EndsWith(LoraB, StringComparison.Ordinal))
            {
                var target = name[..^LoraB.Length];
                pairs[target] = (pairs.GetValueOrDefault(target).A, tensor);
            }
            else if (!name.EndsWith("_norm.weight", StringComparison.Ordinal))
            {
                return Fail($"tensor '{GgufText.Printable(name)}' is neither a .lora_a nor a .lora_b tensor");
            }
        }

        if (pairs.Count == 0)
        {
            return Fail("the adapter has no .lora_a/.lora_b tensor pairs");
        }

        var rank = 0;
        foreach (var (target, (a, b)) in pairs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var shown = GgufText.Printable(target);
            if (a is null || b is null)
            {
                return Fail($"the pair for '{shown}' lacks its {(a is null ? ".lora_a" : ".lora_b")} tensor");
            }

            if (!baseTensors.TryGetValue(target, out var weight))
            {
                return Fail($"the base model has no tensor '{shown}' (is this adapter for another model?)");
            }

            if (!AcceptedTypes.Contains(a.Type) || !AcceptedTypes.Contains(b.Type))
            {
                return Fail($"the pair for '{shown}' has type {a.Type}/{b.Type}; accepted: {string.Join(", ", AcceptedTypes)}");
            }

            if (a.Dimensions.Count != 2 || b.Dimensions.Count != 2 || weight.Dimensions.Count < 2)
            {
                return Fail($"the pair for '{shown}' must be two matrices for a matrix weight");
            }

            var isTokenEmbedding = target.EndsWith("token_embd.weight", StringComparison.Ordinal);
            var shapeOk = isTokenEmbedding
                // B is not transposed for the token embedding; A and B are flipped (llm_build_inp_embd). llama.cpp does
                // not check A's rank against B's there, and ggml_mul_mat would abort on a mismatch: we do.
                ? weight.Dimensions[0] == b.Dimensions[1] && weight.Dimensions[1] == a.Dimensions[1] && a.Dimensions[0] == b.Dimensions[0]
                : weight.Dimensions[0] == a.Dimensions[0] && weight.Dimensions[1] == b.Dimensions[1] && a.Dimensions[1] == b.Dimensions[0];
            if (!shapeOk)
            {
                return Fail($"the pair for '{shown}' has shapes A [{string.Join(", ", a.Dimensions)}], B [{string.Join(", ", b.Dimensions)}] that do not fit the base weight [{string.Join(", ", weight.Dimensions)}]");
            }

            if (rank == 0)
            {
                rank = (int)Math.Min(int.MaxValue, b.Dimensions[0]); // llama.cpp's rank: alpha / rank scales the pair
            }
        }

        return (new LoraAdapterInfo(adapter.Architecture, alpha, rank, pairs.Count), null);

        static (LoraAdapterInfo?, string?) Fail(string reason) => (null, reason);
    }
}
