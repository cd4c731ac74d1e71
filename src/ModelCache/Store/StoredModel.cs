using InferenceMesh.ModelCache.Gguf;

namespace InferenceMesh.ModelCache.Store;

/// <summary>Where a model came from when it was made from another one (e.g. quantised).</summary>
/// <param name="SourceDigest">The digest of the model it was made from.</param>
/// <param name="QuantizationType">The quantisation applied, e.g. "Q4_K_M".</param>
public sealed record ModelLineage(Sha256Digest? SourceDigest, string? QuantizationType);

/// <summary>What the managed GGUF reader found in a model file.</summary>
public sealed record ModelMetadata
{
    public string? Architecture { get; init; }

    public long ParameterCount { get; init; }

    public string? Quantization { get; init; }

    public long? ContextLength { get; init; }

    public string? License { get; init; }

    public bool HasChatTemplate { get; init; }

    internal static ModelMetadata From(GgufFile file) => new()
    {
        Architecture = file.Architecture,
        ParameterCount = file.ParameterCount,
        Quantization = file.Quantization,
        ContextLength = file.ContextLength,
        License = file.License,
        HasChatTemplate = file.HasChatTemplate,
    };
}

/// <summary>The state of a stored file.</summary>
public enum StoredModelStatus
{
    /// <summary>Bytes matched the digest when last hashed.</summary>
    Ok,

    /// <summary>A verify found different bytes; the file was moved to quarantine/ and is not served.</summary>
    Quarantined,
}

/// <summary>A name in the manifest and the file it stands for.</summary>
public sealed record StoredModel
{
    public required string Name { get; init; }

    public required Sha256Digest Digest { get; init; }

    public required long SizeBytes { get; init; }

    /// <summary>The file: <c>blobs/sha256-&lt;hex&gt;</c>, or the loose file at the top of the models folder.</summary>
    public required string Path { get; init; }

    /// <summary>The loose file's name when the model is a loose *.gguf imported in place; null for blobs.</summary>
    public string? LooseFileName { get; init; }

    public StoredModelStatus Status { get; init; }

    /// <summary>URLs the bytes are known to be at, in the order to try them.</summary>
    public IReadOnlyList<string> Sources { get; init; } = [];

    public ModelLineage? Lineage { get; init; }

    public ModelMetadata Metadata { get; init; } = new();

    public DateTimeOffset AddedUtc { get; init; }

    internal FileStamp LooseStamp { get; init; }
}

/// <summary>What to register a new file as.</summary>
public sealed record ModelRegistration
{
    /// <summary>The model name (see <see cref="ModelName"/>).</summary>
    public required string Name { get; init; }

    /// <summary>When set, the bytes must hash to this or nothing is registered.</summary>
    public Sha256Digest? ExpectedSha256 { get; init; }

    /// <summary>Known URLs of the same bytes, in order.</summary>
    public IReadOnlyList<string> Sources { get; init; } = [];

    public ModelLineage? Lineage { get; init; }

    /// <summary>
    /// Whether a loose *.gguf file that gives a model this name is replaced: deleted once the new bytes are registered
    /// under the name. The default value is false: the store never deletes a file the user put in the folder unless
    /// asked to, and refuses the name (<see cref="StoreError.NameTaken"/>).
    /// </summary>
    public bool ReplaceLooseFile { get; init; }
}

/// <summary>Why a store operation did not happen (expected failures are values, not exceptions).</summary>
public enum StoreError
{
    None,
    InvalidName,

    /// <summary>The name belongs to a loose *.gguf file that still exists.</summary>
    NameTaken,
    DigestMismatch,
    InvalidGguf,
    NotFound,
    Io,

    /// <summary>The file is not a LoRA adapter llama.cpp can apply to the named base model.</summary>
    InvalidAdapter,
}

/// <summary>The outcome of registering or removing a model.</summary>
public sealed record StoreResult(StoredModel? Model, StoreError Error, string? Message)
{
    public bool Succeeded => Error == StoreError.None;

    internal static StoreResult Ok(StoredModel model) => new(model, StoreError.None, null);

    internal static StoreResult Fail(StoreError error, string message) => new(null, error, message);
}
