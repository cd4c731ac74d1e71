namespace InferenceMesh.ModelCache.Catalog;

/// <summary>
/// A valid GGUF model in the models folder (a loose top-level *.gguf, or a name of the store's manifest whose blob is in
/// blobs/), with what the managed GGUF reader found in it.
/// </summary>
public sealed record CatalogEntry
{
    /// <summary>The id clients use in "model": the loose file's name without ".gguf", or the manifest name.</summary>
    public required string Id { get; init; }
    public required string Path { get; init; }
    public required long SizeBytes { get; init; }
    /// <summary>general.architecture, e.g. "llama".</summary>
    public required string Architecture { get; init; }
    /// <summary>{arch}.context_length, or null when absent.</summary>
    public int? TrainContextLength { get; init; }
    /// <summary>Sum of tensor elements.</summary>
    public long ParameterCount { get; init; }
    /// <summary>Quantisation name from general.file_type (e.g. "F32", "Q8_0", "Q4_K_M"), or derived from tensor types.</summary>
    public string? Quantization { get; init; }
    public bool HasChatTemplate { get; init; }
    public string? License { get; init; }
    /// <summary>
    /// The SHA-256 (64 lowercase hex) from the store's manifest: always set for stored blobs, set for a loose file once
    /// it was imported (hashed) and unchanged since; null otherwise.
    /// </summary>
    public string? Sha256 { get; init; }
    /// <summary>Last write time of the file (UTC), for /v1/models "created".</summary>
    public DateTimeOffset LastWriteUtc { get; init; }
}

/// <summary>
/// A LoRA adapter of the store's manifest that can be applied to a listed model: its blob passed the managed adapter
/// checks against that model's file, and the model's name still has the bytes it was registered against.
/// </summary>
public sealed record AdapterEntry
{
    /// <summary>The adapter's name (request field <c>lora</c>, model alias <c>base+name</c>).</summary>
    public required string Name { get; init; }
    public required string Path { get; init; }
    public required long SizeBytes { get; init; }
    /// <summary>The SHA-256 (64 lowercase hex) of the adapter's blob.</summary>
    public required string Sha256 { get; init; }
    /// <summary>The id of the base model in this catalog.</summary>
    public required string BaseModel { get; init; }
    /// <summary>The base model's SHA-256 the adapter was registered against.</summary>
    public required string BaseSha256 { get; init; }
    public float? Alpha { get; init; }
    public int Rank { get; init; }
    /// <summary>The scale applied when a request gives none (the model alias).</summary>
    public float DefaultScale { get; init; } = 1f;
}

/// <summary>A *.gguf file that failed validation: never handed to native code.</summary>
public sealed record InvalidModelFile(string FileName, string Reason);

/// <summary>
/// The models folder: every valid *.gguf is listed, every invalid one is reported with its reason.
/// Thread-safe; cheap to query (a rescan re-reads only files whose size or write time changed).
/// </summary>
public interface IModelCatalog
{
    /// <summary>The folder scanned.</summary>
    string Directory { get; }

    IReadOnlyList<CatalogEntry> Models { get; }

    IReadOnlyList<InvalidModelFile> InvalidFiles { get; }

    /// <summary>Finds a valid model by id (ordinal match), rescanning first when the folder changed.</summary>
    CatalogEntry? Find(string id);

    /// <summary>Rescans the folder now.</summary>
    void Refresh();

    /// <summary>The LoRA adapters that can be applied to a listed model, ordered by name.</summary>
    IReadOnlyList<AdapterEntry> Adapters => [];

    /// <summary>Finds an offered adapter by name (ordinal match), rescanning first when the manifest changed.</summary>
    AdapterEntry? FindAdapter(string name) => null;
}
