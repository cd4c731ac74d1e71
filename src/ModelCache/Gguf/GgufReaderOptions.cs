namespace InferenceMesh.ModelCache.Gguf;

/// <summary>Limits applied by <see cref="GgufReader"/>. Defaults are in <see cref="GgufReaderDefaults"/>.</summary>
public sealed record GgufReaderOptions
{
    public static GgufReaderOptions Default { get; } = new();

    /// <summary>Longest metadata string value in bytes. The default value is 16 MiB (a long chat template is ~100 KiB).</summary>
    public long MaxStringLength { get; init; } = GgufReaderDefaults.MaxStringLength;

    /// <summary>Most elements in one array. The default value is 2^30, llama.cpp's GGUF_MAX_ARRAY_ELEMENTS.</summary>
    public long MaxArrayElements { get; init; } = GgufReaderDefaults.MaxArrayElements;

    /// <summary>
    /// Arrays with at most this many elements are read into memory; longer ones (a vocabulary) are only checked and
    /// skipped. The default value is 1024.
    /// </summary>
    public int MaxMaterializedArrayElements { get; init; } = GgufReaderDefaults.MaxMaterializedArrayElements;
}

/// <summary>The default values of <see cref="GgufReaderOptions"/> and fixed limits of the reader.</summary>
public static class GgufReaderDefaults
{
    public const long MaxStringLength = 16 * 1024 * 1024;

    public const long MaxArrayElements = 1L << 30;

    public const int MaxMaterializedArrayElements = 1024;

    /// <summary>Arrays of arrays deeper than this are rejected (bounds the reader's recursion).</summary>
    public const int MaxArrayNesting = 8;
}
