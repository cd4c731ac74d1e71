using System.Diagnostics.CodeAnalysis;

namespace InferenceMesh.ModelCache.Gguf;

/// <summary>Why a file is not a valid GGUF file, and the byte offset where the problem was found.</summary>
public sealed record GgufError(string Reason, long ByteOffset)
{
    public override string ToString() => $"{Reason} (at byte {ByteOffset})";
}

/// <summary>The outcome of <see cref="GgufReader"/>: either a <see cref="GgufFile"/> or a <see cref="GgufError"/>.</summary>
public sealed class GgufReadResult
{
    private GgufReadResult(GgufFile? file, GgufError? error)
    {
        File = file;
        Error = error;
    }

    public GgufFile? File { get; }

    public GgufError? Error { get; }

    [MemberNotNullWhen(true, nameof(File))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsValid => File is not null;

    public static GgufReadResult Success(GgufFile file) => new(file ?? throw new ArgumentNullException(nameof(file)), null);

    public static GgufReadResult Failure(GgufError error) => new(null, error ?? throw new ArgumentNullException(nameof(error)));

    public static implicit operator GgufReadResult(GgufFile file) => Success(file);

    public static implicit operator GgufReadResult(GgufError error) => Failure(error);

    public override string ToString() => IsValid ? $"valid GGUF v{File.Version}, {File.Tensors.Count} tensors" : Error.ToString();
}

/// <summary>
/// A GGUF array. Small arrays (up to <see cref="GgufReaderOptions.MaxMaterializedArrayElements"/>) are read into
/// <see cref="Values"/>; larger ones (a vocabulary, merges, scores) keep only their type, count and position.
/// </summary>
public sealed class GgufArray
{
    internal GgufArray(GgufValueType elementType, long count, long offset, long byteLength, Array? values)
    {
        ElementType = elementType;
        Count = count;
        Offset = offset;
        ByteLength = byteLength;
        Values = values;
    }

    public GgufValueType ElementType { get; }

    public long Count { get; }

    /// <summary>File offset of the first element.</summary>
    public long Offset { get; }

    /// <summary>Bytes taken by the elements.</summary>
    public long ByteLength { get; }

    /// <summary>
    /// The elements when materialised: byte[], sbyte[], ushort[], short[], uint[], int[], ulong[], long[], float[],
    /// double[], bool[], string[] or GgufArray[] (nested arrays); null for a large array.
    /// </summary>
    public Array? Values { get; }

    [MemberNotNullWhen(true, nameof(Values))]
    public bool IsMaterialized => Values is not null;

    /// <summary>The elements as <typeparamref name="T"/>[] when materialised with that element type.</summary>
    public bool TryGetValues<T>([NotNullWhen(true)] out T[]? values)
    {
        values = Values as T[];
        return values is not null;
    }

    public override string ToString() => $"array of {Count} {ElementType}";
}

/// <summary>One metadata key-value pair. <see cref="Value"/> is the boxed scalar, a string, or a <see cref="GgufArray"/>.</summary>
public sealed record GgufMetadataEntry(string Key, GgufValueType Type, object Value, long Offset);

/// <summary>A tensor's description from the tensor-info section.</summary>
public sealed record GgufTensorInfo
{
    public required string Name { get; init; }

    /// <summary>ne[0..n_dims): ne[0] is the innermost (row) dimension.</summary>
    public required IReadOnlyList<long> Dimensions { get; init; }

    public required GgmlType Type { get; init; }

    /// <summary>Offset of the data relative to <see cref="GgufFile.DataOffset"/>.</summary>
    public required long Offset { get; init; }

    public required long ElementCount { get; init; }

    public required long ByteCount { get; init; }

    /// <summary>Offset of the data from the start of the file.</summary>
    public required long FileOffset { get; init; }
}

/// <summary>A GGUF file that passed every check of <see cref="GgufReader"/>. Immutable.</summary>
public sealed class GgufFile
{
    private readonly Dictionary<string, GgufMetadataEntry> _byKey;

    internal GgufFile(
        uint version,
        long fileLength,
        uint alignment,
        long dataOffset,
        IReadOnlyList<GgufMetadataEntry> metadata,
        IReadOnlyList<GgufTensorInfo> tensors,
        bool hasNestedArrays)
    {
        Version = version;
        FileLength = fileLength;
        Alignment = alignment;
        DataOffset = dataOffset;
        Metadata = metadata;
        Tensors = tensors;
        HasNestedArrays = hasNestedArrays;
        _byKey = metadata.ToDictionary(m => m.Key, StringComparer.Ordinal);

        Architecture = TryGetString("general.architecture", out var arch) ? arch : null;
        Name = TryGetString("general.name", out var name) ? name : null;
        License = TryGetString("general.license", out var license) ? license : null;
        HasChatTemplate = _byKey.ContainsKey("tokenizer.chat_template");
        ContextLength = Architecture is not null && TryGetInteger($"{Architecture}.context_length", out var ctx) ? ctx : null;
        ParameterCount = tensors.Sum(t => t.ElementCount);
        FileType = TryGetInteger("general.file_type", out var ftype) && ftype is >= 0 and <= uint.MaxValue
            ? (uint)ftype & ~LlamaFileTypes.GuessedFlag
            : null;
        Quantization = (FileType is { } ft ? LlamaFileTypes.NameOf(ft) : null)
            ?? (tensors.Count > 0 ? LlamaFileTypes.NameOf(LlamaFileTypes.GuessFromTensorTypes(tensors.Select(t => t.Type))) : null);
    }

    /// <summary>2 or 3.</summary>
    public uint Version { get; }

    public long FileLength { get; }

    /// <summary>general.alignment, or 32.</summary>
    public uint Alignment { get; }

    /// <summary>Where the tensor data section starts (tensor offsets are relative to it).</summary>
    public long DataOffset { get; }

    /// <summary>Metadata in file order.</summary>
    public IReadOnlyList<GgufMetadataEntry> Metadata { get; }

    /// <summary>Tensor infos in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>True when an array contains arrays: valid GGUF, but llama.cpp v0.5.0 refuses such files.</summary>
    public bool HasNestedArrays { get; }

    /// <summary>general.architecture, e.g. "llama".</summary>
    public string? Architecture { get; }

    /// <summary>general.name.</summary>
    public string? Name { get; }

    /// <summary>general.license.</summary>
    public string? License { get; }

    /// <summary>{architecture}.context_length (any integer type).</summary>
    public long? ContextLength { get; }

    /// <summary>The sum of the tensors' element counts.</summary>
    public long ParameterCount { get; }

    /// <summary>general.file_type (llama_ftype) without llama.cpp's "guessed" flag, or null when absent.</summary>
    public uint? FileType { get; }

    /// <summary>
    /// The quantisation name of <see cref="FileType"/> as llama.cpp names its llama_ftype values ("F32", "F16", "Q8_0",
    /// "Q4_K_M", ...); when general.file_type is absent or unknown, the one llama.cpp guesses from the most common
    /// tensor type.
    /// </summary>
    public string? Quantization { get; }

    /// <summary>tokenizer.chat_template is present.</summary>
    public bool HasChatTemplate { get; }

    public bool TryGetEntry(string key, [NotNullWhen(true)] out GgufMetadataEntry? entry) => _byKey.TryGetValue(key, out entry);

    public bool ContainsKey(string key) => _byKey.ContainsKey(key);

    public bool TryGetString(string key, [NotNullWhen(true)] out string? value) => TryGet(key, out value);

    public bool TryGetBool(string key, out bool value) => TryGet(key, out value);

    public bool TryGetUInt8(string key, out byte value) => TryGet(key, out value);

    public bool TryGetInt8(string key, out sbyte value) => TryGet(key, out value);

    public bool TryGetUInt16(string key, out ushort value) => TryGet(key, out value);

    public bool TryGetInt16(string key, out short value) => TryGet(key, out value);

    public bool TryGetUInt32(string key, out uint value) => TryGet(key, out value);

    public bool TryGetInt32(string key, out int value) => TryGet(key, out value);

    public bool TryGetUInt64(string key, out ulong value) => TryGet(key, out value);

    public bool TryGetInt64(string key, out long value) => TryGet(key, out value);

    public bool TryGetFloat32(string key, out float value) => TryGet(key, out value);

    public bool TryGetFloat64(string key, out double value) => TryGet(key, out value);

    public bool TryGetArray(string key, [NotNullWhen(true)] out GgufArray? value) => TryGet(key, out value);

    /// <summary>A value of any integer type, widened to long; false when absent, not an integer, or above long.MaxValue.</summary>
    public bool TryGetInteger(string key, out long value)
    {
        value = 0;
        if (!_byKey.TryGetValue(key, out var entry))
        {
            return false;
        }

        switch (entry.Value)
        {
            case byte v: value = v; return true;
            case sbyte v: value = v; return true;
            case ushort v: value = v; return true;
            case short v: value = v; return true;
            case uint v: value = v; return true;
            case int v: value = v; return true;
            case long v: value = v; return true;
            case ulong v when v <= long.MaxValue: value = (long)v; return true;
            default: return false;
        }
    }

    private bool TryGet<T>(string key, [NotNullWhen(true)] out T? value)
    {
        if (_byKey.TryGetValue(key, out var entry) && entry.Value is T typed)
        {
            value = typed;
            return true;
        }

        value = default;
        return false;
    }
}
