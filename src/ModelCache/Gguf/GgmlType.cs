namespace InferenceMesh.ModelCache.Gguf;

/// <summary>
/// ggml tensor types with ggml's numeric values (enum ggml_type in ggml/include/ggml.h, llama.cpp v0.5.0).
/// Values 4, 5, 31..33 and 36..38 were removed from ggml and are not valid in GGUF files.
/// </summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
    Q2_0 = 42,
}

/// <summary>How a ggml type is stored: <see cref="BlockSize"/> elements take <see cref="BytesPerBlock"/> bytes.</summary>
public readonly record struct GgmlTypeSize(int BlockSize, int BytesPerBlock);

/// <summary>
/// The storage size of each ggml type: ggml's type_traits (ggml/src/ggml.c) with the block struct sizes of
/// ggml/src/ggml-common.h, both from llama.cpp v0.5.0 (checked with sizeof in C).
/// </summary>
public static class GgmlTypes
{
    private const int QK_K = 256;

    private static readonly Dictionary<GgmlType, GgmlTypeSize> Sizes = new()
    {
        [GgmlType.F32] = new(1, 4),
        [GgmlType.F16] = new(1, 2),
        [GgmlType.BF16] = new(1, 2),
        [GgmlType.F64] = new(1, 8),
        [GgmlType.I8] = new(1, 1),
        [GgmlType.I16] = new(1, 2),
        [GgmlType.I32] = new(1, 4),
        [GgmlType.I64] = new(1, 8),
        [GgmlType.Q4_0] = new(32, 18),
        [GgmlType.Q4_1] = new(32, 20),
        [GgmlType.Q5_0] = new(32, 22),
        [GgmlType.Q5_1] = new(32, 24),
        [GgmlType.Q8_0] = new(32, 34),
        [GgmlType.Q8_1] = new(32, 36),
        [GgmlType.Q2_K] = new(QK_K, 84),
        [GgmlType.Q3_K] = new(QK_K, 110),
        [GgmlType.Q4_K] = new(QK_K, 144),
        [GgmlType.Q5_K] = new(QK_K, 176),
        [GgmlType.Q6_K] = new(QK_K, 210),
        [GgmlType.Q8_K] = new(QK_K, 292),
        [GgmlType.IQ2_XXS] = new(QK_K, 66),
        [GgmlType.IQ2_XS] = new(QK_K, 74),
        [GgmlType.IQ3_XXS] = new(QK_K, 98),
        [GgmlType.IQ1_S] = new(QK_K, 50),
        [GgmlType.IQ4_NL] = new(32, 18),
        [GgmlType.IQ3_S] = new(QK_K, 110),
        [GgmlType.IQ2_S] = new(QK_K, 82),
        [GgmlType.IQ4_XS] = new(QK_K, 136),
        [GgmlType.IQ1_M] = new(QK_K, 56),
        [GgmlType.TQ1_0] = new(QK_K, 54),
        [GgmlType.TQ2_0] = new(QK_K, 66),
        [GgmlType.MXFP4] = new(32, 17),
        [GgmlType.NVFP4] = new(64, 36),
        [GgmlType.Q1_0] = new(128, 18),
        [GgmlType.Q2_0] = new(64, 18),
    };

    /// <summary>Every type that may appear in a GGUF file.</summary>
    public static IReadOnlyCollection<GgmlType> All => Sizes.Keys;

    /// <summary>True when <paramref name="type"/> is a ggml type that may appear in a GGUF file.</summary>
    public static bool IsKnown(GgmlType type) => Sizes.ContainsKey(type);

    public static bool TryGetSize(GgmlType type, out GgmlTypeSize size) => Sizes.TryGetValue(type, out size);

    /// <summary>The storage size of a known type; throws <see cref="ArgumentOutOfRangeException"/> for an unknown one.</summary>
    public static GgmlTypeSize GetSize(GgmlType type) =>
        Sizes.TryGetValue(type, out var size)
            ? size
            : throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown ggml type.");

    /// <summary>
    /// The bytes a tensor of this type and shape takes (ggml_nbytes): blocks run along the first dimension, which must
    /// be a multiple of the block size. False when the type is unknown, a dimension is not positive, the first dimension
    /// is not a multiple of the block size, or the size does not fit in a long.
    /// </summary>
    public static bool TryGetByteCount(GgmlType type, ReadOnlySpan<long> dims, out long elementCount, out long byteCount)
    {
        elementCount = 0;
        byteCount = 0;
        if (!Sizes.TryGetValue(type, out var size) || dims.Length == 0)
        {
            return false;
        }

        Int128 elements = 1;
        foreach (var d in dims)
        {
            if (d <= 0)
            {
                return false;
            }

            elements *= d;
            if (elements > long.MaxValue)
            {
                return false;
            }
        }

        if (dims[0] % size.BlockSize != 0)
        {
            return false;
        }

        Int128 bytes = elements / size.BlockSize * size.BytesPerBlock;
        if (bytes > long.MaxValue)
        {
            return false;
        }

        elementCount = (long)elements;
        byteCount = (long)bytes;
        return true;
    }
}
