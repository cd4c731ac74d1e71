using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace InferenceMesh.Engine.Quantization;

/// <summary>
/// A quantisation type as llama-quantize names it ("Q8_0", "Q4_K_M", "q4_k", "15", ...). Any string converts to it;
/// <see cref="TryResolve"/> maps it to the llama_ftype exactly like llama-quantize's <c>try_parse_ftype</c>
/// (tools/quantize/quantize.cpp, llama.cpp v0.5.0): a case-insensitive name match first, then a decimal llama_ftype
/// value (the first table entry with that value). An unknown name is not an exception: the quantizer answers
/// <see cref="QuantizeError.UnknownType"/>.
/// </summary>
public readonly record struct QuantizationType(string Name)
{
    public static QuantizationType Q4_0 => new("Q4_0");

    public static QuantizationType Q4_1 => new("Q4_1");

    public static QuantizationType Q5_0 => new("Q5_0");

    public static QuantizationType Q5_1 => new("Q5_1");

    public static QuantizationType Q8_0 => new("Q8_0");

    public static QuantizationType Q2_K => new("Q2_K");

    public static QuantizationType Q3_K_M => new("Q3_K_M");

    public static QuantizationType Q4_K_M => new("Q4_K_M");

    public static QuantizationType Q5_K_M => new("Q5_K_M");

    public static QuantizationType Q6_K => new("Q6_K");

    public static QuantizationType F16 => new("F16");

    public static QuantizationType BF16 => new("BF16");

    public static implicit operator QuantizationType(string name) => new(name);

    /// <summary>The table entry this name (or llama_ftype number) selects; false for anything llama-quantize rejects.</summary>
    public bool TryResolve([NotNullWhen(true)] out QuantizationTypeInfo? info) => QuantizationTypes.TryResolve(Name, out info);

    public override string ToString() => Name ?? string.Empty;
}

/// <summary>One row of llama-quantize's QUANT_OPTIONS table.</summary>
/// <param name="Name">The canonical name (upper case), e.g. "Q4_K_M".</param>
/// <param name="FileType">The llama_ftype written to general.file_type.</param>
/// <param name="Description">llama-quantize's one-line description.</param>
/// <param name="OnlyCopy">"COPY": copy tensors unchanged (only_copy), keeping the input's file type.</param>
/// <param name="IsAlias">An alias of another row ("Q4_K" is Q4_K_M).</param>
public sealed record QuantizationTypeInfo(string Name, int FileType, string Description, bool OnlyCopy = false, bool IsAlias = false)
{
    /// <summary>
    /// True for the types whose most tensors need an importance matrix in llama.cpp (IQ1_*, IQ2_XXS/XS/S, Q2_K_S…):
    /// without one llama.cpp refuses them ("this quantization requires an imatrix!"), which the quantizer reports as
    /// <see cref="QuantizeError.NativeFailed"/>. This API has no imatrix input yet.
    /// </summary>
    public bool UsuallyRequiresImportanceMatrix => FileType is 19 or 20 or 21 or 24 or 28 or 31;
}

/// <summary>llama-quantize's QUANT_OPTIONS (tools/quantize/quantize.cpp, llama.cpp v0.5.0), in the same order.</summary>
public static class QuantizationTypes
{
    /// <summary>Every row, in llama-quantize's order (which decides what a bare llama_ftype number resolves to).</summary>
    public static IReadOnlyList<QuantizationTypeInfo> All { get; } =
    [
        new("Q1_0", 40, " 1.125 bpw quantization"),
        new("Q2_0", 41, " 2.25 bpw quantization (group 64)"),
        new("Q4_0", 2, " 4.34G, +0.4685 ppl @ Llama-3-8B"),
        new("Q4_1", 3, " 4.78G, +0.4511 ppl @ Llama-3-8B"),
        new("MXFP4_MOE", 38, " MXFP4 MoE"),
        new("Q5_0", 8, " 5.21G, +0.1316 ppl @ Llama-3-8B"),
        new("Q5_1", 9, " 5.65G, +0.1062 ppl @ Llama-3-8B"),
        new("IQ2_XXS", 19, " 2.06 bpw quantization"),
        new("IQ2_XS", 20, " 2.31 bpw quantization"),
        new("IQ2_S", 28, " 2.5  bpw quantization"),
        new("IQ2_M", 29, " 2.7  bpw quantization"),
        new("IQ1_S", 24, " 1.56 bpw quantization"),
        new("IQ1_M", 31, " 1.75 bpw quantization"),
        new("TQ1_0", 36, " 1.69 bpw ternarization"),
        new("TQ2_0", 37, " 2.06 bpw ternarization"),
        new("Q2_K", 10, " 2.96G, +3.5199 ppl @ Llama-3-8B"),
        new("Q2_K_S", 21, " 2.96G, +3.1836 ppl @ Llama-3-8B"),
        new("IQ3_XXS", 23, " 3.06 bpw quantization"),
        new("IQ3_S", 26, " 3.44 bpw quantization"),
        new("IQ3_M", 27, " 3.66 bpw quantization mix"),
        new("Q3_K", 12, "alias for Q3_K_M", IsAlias: true),
        new("IQ3_XS", 22, " 3.3 bpw quantization"),
        new("Q3_K_S", 11, " 3.41G, +1.6321 ppl @ Llama-3-8B"),
        new("Q3_K_M", 12, " 3.74G, +0.6569 ppl @ Llama-3-8B"),
        new("Q3_K_L", 13, " 4.03G, +0.5562 ppl @ Llama-3-8B"),
        new("IQ4_NL", 25, " 4.50 bpw non-linear quantization"),
        new("IQ4_XS", 30, " 4.25 bpw non-linear quantization"),
        new("Q4_K", 15, "alias for Q4_K_M", IsAlias: true),
        new("Q4_K_S", 14, " 4.37G, +0.2689 ppl @ Llama-3-8B"),
        new("Q4_K_M", 15, " 4.58G, +0.1754 ppl @ Llama-3-8B"),
        new("Q5_K", 17, "alias for Q5_K_M", IsAlias: true),
        new("Q5_K_S", 16, " 5.21G, +0.1049 ppl @ Llama-3-8B"),
        new("Q5_K_M", 17, " 5.33G, +0.0569 ppl @ Llama-3-8B"),
        new("Q6_K", 18, " 6.14G, +0.0217 ppl @ Llama-3-8B"),
        new("Q8_0", 7, " 7.96G, +0.0026 ppl @ Llama-3-8B"),
        new("F16", 1, "14.00G, +0.0020 ppl @ Mistral-7B"),
        new("BF16", 32, "14.00G, -0.0050 ppl @ Mistral-7B"),
        new("F32", 0, "26.00G              @ 7B"),
        new("COPY", 0, "only copy tensors, no quantizing", OnlyCopy: true),
    ];

    /// <summary>llama-quantize's <c>try_parse_ftype</c>: a case-insensitive name, else a decimal llama_ftype value.</summary>
    public static bool TryResolve(string? name, [NotNullWhen(true)] out QuantizationTypeInfo? info)
    {
        info = null;
        if (string.IsNullOrWhiteSpace(name))
        {
            return false;
        }

        foreach (var row in All)
        {
            if (string.Equals(row.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                info = row;
                return true;
            }
        }

        // std::stoi: leading whitespace, optional sign, digits; trailing characters ignored.
        var span = name.AsSpan().TrimStart();
        var length = 0;
        if (length < span.Length && span[length] is '+' or '-')
        {
            length++;
        }

        while (length < span.Length && char.IsAsciiDigit(span[length]))
        {
            length++;
        }

        if (!int.TryParse(span[..length], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var fileType))
        {
            return false;
        }

        info = All.FirstOrDefault(row => row.FileType == fileType);
        return info is not null;
    }
}
