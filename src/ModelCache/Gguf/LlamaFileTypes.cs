namespace InferenceMesh.ModelCache.Gguf;

/// <summary>
/// llama.cpp's llama_ftype (include/llama.h, v0.5.0): the value of general.file_type, named as the enum names it
/// without the LLAMA_FTYPE_MOSTLY_ / LLAMA_FTYPE_ALL_ prefix ("F32", "Q8_0", "Q4_K_M", ...).
/// </summary>
public static class LlamaFileTypes
{
    /// <summary>LLAMA_FTYPE_GUESSED: llama.cpp sets this bit when it guessed the type from the tensors.</summary>
    public const uint GuessedFlag = 1024;

    private static readonly Dictionary<uint, string> Names = new()
    {
        [0] = "F32",
        [1] = "F16",
        [2] = "Q4_0",
        [3] = "Q4_1",
        [7] = "Q8_0",
        [8] = "Q5_0",
        [9] = "Q5_1",
        [10] = "Q2_K",
        [11] = "Q3_K_S",
        [12] = "Q3_K_M",
        [13] = "Q3_K_L",
        [14] = "Q4_K_S",
        [15] = "Q4_K_M",
        [16] = "Q5_K_S",
        [17] = "Q5_K_M",
        [18] = "Q6_K",
        [19] = "IQ2_XXS",
        [20] = "IQ2_XS",
        [21] = "Q2_K_S",
        [22] = "IQ3_XS",
        [23] = "IQ3_XXS",
        [24] = "IQ1_S",
        [25] = "IQ4_NL",
        [26] = "IQ3_S",
        [27] = "IQ3_M",
        [28] = "IQ2_S",
        [29] = "IQ2_M",
        [30] = "IQ4_XS",
        [31] = "IQ1_M",
        [32] = "BF16",
        [36] = "TQ1_0",
        [37] = "TQ2_0",
        [38] = "MXFP4_MOE",
        [39] = "NVFP4",
        [40] = "Q1_0",
        [41] = "Q2_0",
    };

    /// <summary>The name of a llama_ftype value (the guessed flag ignored), or null when unknown.</summary>
    public static string? NameOf(uint fileType) => Names.GetValueOrDefault(fileType & ~GuessedFlag);

    /// <summary>
    /// The llama_ftype llama.cpp guesses when general.file_type is absent (llama-model-loader.cpp): from the most
    /// common tensor type, ties going to the type that reached the count first; unknown types give ALL_F32.
    /// </summary>
    public static uint GuessFromTensorTypes(IEnumerable<GgmlType> tensorTypes)
    {
        var counts = new Dictionary<GgmlType, int>();
        var max = 0;
        var mostCommon = GgmlType.F32;
        foreach (var type in tensorTypes)
        {
            var n = counts[type] = counts.GetValueOrDefault(type) + 1;
            if (max < n)
            {
                max = n;
                mostCommon = type;
            }
        }

        return mostCommon switch
        {
            GgmlType.F32 => 0,
            GgmlType.F16 => 1,
            GgmlType.BF16 => 32,
            GgmlType.Q4_0 => 2,
            GgmlType.Q4_1 => 3,
            GgmlType.Q5_0 => 8,
            GgmlType.Q5_1 => 9,
            GgmlType.Q8_0 => 7,
            GgmlType.Q2_K => 10,
            GgmlType.Q3_K => 12,
            GgmlType.Q4_K => 15,
            GgmlType.Q5_K => 17,
            GgmlType.Q6_K => 18,
            GgmlType.TQ1_0 => 36,
            GgmlType.TQ2_0 => 37,
            GgmlType.IQ2_XXS => 19,
            GgmlType.IQ2_XS => 20,
            GgmlType.IQ2_S => 28,
            GgmlType.IQ3_XXS => 23,
            GgmlType.IQ1_S => 24,
            GgmlType.IQ1_M => 31,
            GgmlType.IQ4_NL => 25,
            GgmlType.IQ4_XS => 30,
            GgmlType.IQ3_S => 26,
            GgmlType.NVFP4 => 39,
            GgmlType.Q1_0 => 40,
            GgmlType.Q2_0 => 41,
            _ => 0,
        };
    }
}
