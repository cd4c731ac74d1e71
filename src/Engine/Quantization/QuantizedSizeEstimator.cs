namespace InferenceMesh.Engine.Quantization;

/// <summary>A tensor of the input, as the GGUF tensor-info section describes it.</summary>
/// <param name="Name">e.g. "blk.0.attn_q.weight".</param>
/// <param name="Dimensions">ne[0..n): ne[0] is the row length.</param>
/// <param name="ByteCount">Its size in the input.</param>
public sealed record QuantizationTensor(string Name, IReadOnlyList<long> Dimensions, long ByteCount);

/// <summary>
/// Estimates the size of llama.cpp's quantised output, for progress and for "which quantisation fits".
/// </summary>
/// <remarks>
/// It follows llama.cpp v0.5.0's rules (src/llama-quant.cpp) that decide most bytes: only 2-D+ tensors whose name ends in
/// "weight" (not norms, not expert gates) are quantised, to the type's default ggml type; the output tensor (and the
/// token embedding when the model ties them) gets Q6_K unless the type is Q8_0 (Q8_0 when its rows do not fit a
/// 256-block, Q5_K for IQ1/IQ2 types); rows that do not fit a block fall back as <c>tensor_type_fallback</c> does
/// (Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0, Q2_K/Q3_K→Q4_0, IQ*→IQ4_NL, else F16). It ignores the per-layer mixes of the
/// K-quant "_M"/"_L" and IQ types (a few attention/FFN tensors one step up), so for those it is low by a few per cent.
/// The metadata is assumed to keep the input's size.
/// </remarks>
public static class QuantizedSizeEstimator
{
    private const int GgufAlignment = 32;

    // ggml type -> (block size, bytes per block): ggml's type_traits, llama.cpp v0.5.0 (the types quantisation writes).
    private static readonly Dictionary<string, (int Block, int Bytes)> TypeSizes = new(StringComparer.Ordinal)
    {
        ["F32"] = (1, 4), ["F16"] = (1, 2), ["BF16"] = (1, 2),
        ["Q4_0"] = (32, 18), ["Q4_1"] = (32, 20), ["Q5_0"] = (32, 22), ["Q5_1"] = (32, 24), ["Q8_0"] = (32, 34),
        ["Q2_K"] = (256, 84), ["Q3_K"] = (256, 110), ["Q4_K"] = (256, 144), ["Q5_K"] = (256, 176), ["Q6_K"] = (256, 210),
        ["IQ2_XXS"] = (256, 66), ["IQ2_XS"] = (256, 74), ["IQ3_XXS"] = (256, 98), ["IQ1_S"] = (256, 50),
        ["IQ4_NL"] = (32, 18), ["IQ3_S"] = (256, 110), ["IQ2_S"] = (256, 82), ["IQ4_XS"] = (256, 136),
        ["IQ1_M"] = (256, 56), ["TQ1_0"] = (256, 54), ["TQ2_0"] = (256, 66), ["MXFP4"] = (32, 17),
        ["Q1_0"] = (128, 18), ["Q2_0"] = (64, 18),
    };

    /// <summary>The estimated output size in bytes: <paramref name="metadataBytes"/> plus every tensor at its new type, aligned.</summary>
    public static long Estimate(IEnumerable<QuantizationTensor> tensors, QuantizationTypeInfo type, long metadataBytes)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(type);
        var list = tensors as IReadOnlyCollection<QuantizationTensor> ?? [.. tensors];
        var tiedEmbeddings = !list.Any(t => t.Name == "output.weight");
        var total = metadataBytes;
        foreach (var tensor in list)
        {
            var bytes = TargetType(tensor, type, tiedEmbeddings) is { } target ? SizeAs(tensor, target) : tensor.ByteCount;
            total += (bytes + GgufAlignment - 1) / GgufAlignment * GgufAlignment;
        }

        return total;
    }

    /// <summary>The ggml type name a tensor is written as, or null when it is copied unchanged.</summary>
    internal static string? TargetType(QuantizationTensor tensor, QuantizationTypeInfo type, bool tiedEmbeddings)
    {
        if (type.OnlyCopy || !AllowsQuantization(tensor) || DefaultType(type.FileType) is not { } target)
        {
            return null;
        }

        if (!IsQuantized(target))
        {
            return target;
        }

        var rowLength = tensor.Dimensions[0];
        var isOutput = tensor.Name == "output.weight" || (tiedEmbeddings && tensor.Name == "token_embd.weight");
        if (isOutput)
        {
            target = type.FileType == 38 || rowLength % TypeSizes[target].Block != 0 ? "Q8_0"
                : type.FileType is 19 or 20 or 23 or 24 or 28 or 29 or 31 ? "Q5_K"
                : target != "Q8_0" ? "Q6_K"
                : target;
        }

        return Fallback(target, rowLength);
    }

    private static string Fallback(string target, long rowLength)
    {
        if (rowLength % TypeSizes[target].Block == 0)
        {
            return target;
        }

        var fallback = target switch
        {
            "IQ1_S" or "IQ1_M" or "IQ2_XXS" or "IQ2_XS" or "IQ2_S" or "IQ3_XXS" or "IQ3_S" or "IQ4_XS" => "IQ4_NL",
            "Q2_0" or "Q2_K" or "Q3_K" or "TQ1_0" or "TQ2_0" => "Q4_0",
            "Q4_K" => "Q5_0",
            "Q5_K" => "Q5_1",
            "Q6_K" => "Q8_0",
            _ => target,
        };
        return rowLength % TypeSizes[fallback].Block == 0 ? fallback : "F16";
    }

    private static long SizeAs(QuantizationTensor tensor, string type)
    {
        var (block, bytes) = TypeSizes[type];
        long elements = 1;
        foreach (var d in tensor.Dimensions)
        {
            elements *= d;
        }

        return elements / block * bytes;
    }

    private static bool IsQuantized(string type) => type is not ("F32" or "F16" or "BF16");

    /// <summary>llama.cpp's <c>tensor_allows_quantization</c>, for the names that occur in common architectures.</summary>
    private static bool AllowsQuantization(QuantizationTensor tensor)
    {
        var name = tensor.Name;
        var nDims = tensor.Dimensions.Count;
        while (nDims > 1 && tensor.Dimensions[nDims - 1] == 1)
        {
            nDims--; // ggml_n_dims ignores trailing 1s
        }

        return nDims >= 2
            && name.EndsWith("weight", StringComparison.Ordinal)
            && !name.Contains("_norm.weight", StringComparison.Ordinal)
            && !name.Contains("ffn_gate_inp.weight", StringComparison.Ordinal)
            && !name.Contains("altup", StringComparison.Ordinal)
            && !name.Contains("laurel", StringComparison.Ordinal)
            && !name.Contains("per_layer_model_proj", StringComparison.Ordinal)
            && name is not ("position_embd.weight" or "token_types.weight")
            && !name.Contains("ssm_conv1d", StringComparison.Ordinal)
            && !name.Contains("shortconv.conv.weight", StringComparison.Ordinal)
            && !name.Contains("time_mix_first.weight", StringComparison.Ordinal);
    }

    /// <summary>llama.cpp's <c>llama_ftype_get_default_type</c> (as a ggml type name), null for an invalid llama_ftype.</summary>
    internal static string? DefaultType(int fileType) => fileType switch
    {
        2 => "Q4_0", 3 => "Q4_1", 8 => "Q5_0", 9 => "Q5_1", 7 => "Q8_0", 1 => "F16", 32 => "BF16", 0 => "F32",
        40 => "Q1_0", 41 => "Q2_0", 38 => "MXFP4",
        21 or 10 => "Q2_K", 22 => "IQ3_S", 11 or 12 or 13 => "Q3_K", 14 or 15 => "Q4_K", 16 or 17 => "Q5_K", 18 => "Q6_K",
        36 => "TQ1_0", 37 => "TQ2_0", 19 => "IQ2_XXS", 20 => "IQ2_XS", 28 => "IQ2_XS", 29 => "IQ2_S", 23 => "IQ3_XXS",
        24 => "IQ1_S", 31 => "IQ1_M", 25 => "IQ4_NL", 30 => "IQ4_XS", 26 or 27 => "IQ3_S",
        _ => null,
    };
}
