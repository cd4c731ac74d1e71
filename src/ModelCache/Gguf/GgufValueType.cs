namespace InferenceMesh.ModelCache.Gguf;

/// <summary>The type of a GGUF metadata value (enum gguf_type in ggml/include/gguf.h).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>Constants of the GGUF container format.</summary>
public static class GgufFormat
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>The version <see cref="GgufWriter"/> writes; the reader accepts 2 and 3.</summary>
    public const uint CurrentVersion = 3;

    /// <summary>The alignment of tensor data when general.alignment is absent.</summary>
    public const uint DefaultAlignment = 32;

    /// <summary>The metadata key that sets the alignment (a uint32 power of two).</summary>
    public const string AlignmentKey = "general.alignment";

    /// <summary>The tokenizer model (llama, gpt2, …; no_vocab and none mean no vocabulary).</summary>
    public const string TokenizerModelKey = "tokenizer.ggml.model";

    /// <summary>The vocabulary: an array of strings.</summary>
    public const string TokenizerTokensKey = "tokenizer.ggml.tokens";

    /// <summary>ggml's GGML_MAX_DIMS.</summary>
    public const int MaxDimensions = 4;

    /// <summary>Longest tensor name in bytes: ggml's GGML_MAX_NAME (64) minus the terminating NUL.</summary>
    public const int MaxTensorNameBytes = 63;

    /// <summary>Longest metadata key in bytes (the GGUF specification).</summary>
    public const int MaxKeyBytes = 65535;

    /// <summary>Bytes of the fixed header: magic, version, tensor_count, kv_count.</summary>
    public const int HeaderBytes = 24;

    /// <summary>The size in bytes of a scalar value type, or 0 for string and array.</summary>
    public static int ScalarSize(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    internal static long AlignUp(long value, uint alignment) => (value + alignment - 1) / alignment * alignment;
}
