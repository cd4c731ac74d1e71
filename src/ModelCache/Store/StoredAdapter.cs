namespace InferenceMesh.ModelCache.Store;

/// <summary>A LoRA adapter in the manifest: a blob, and the base model it was validated against.</summary>
public sealed record StoredAdapter
{
    public required string Name { get; init; }

    public required Sha256Digest Digest { get; init; }

    public required long SizeBytes { get; init; }

    /// <summary>The blob: <c>blobs/sha256-&lt;hex&gt;</c>.</summary>
    public required string Path { get; init; }

    /// <summary>The base model's name when the adapter was added.</summary>
    public required string BaseName { get; init; }

    /// <summary>The base model's digest when the adapter was added: the adapter is offered only while the name still has these bytes.</summary>
    public required Sha256Digest BaseDigest { get; init; }

    public required string Architecture { get; init; }

    /// <summary>adapter.lora.alpha, or null when the file has none.</summary>
    public float? Alpha { get; init; }

    public int Rank { get; init; }

    public int TensorPairs { get; init; }

    /// <summary>The scale used when a request names the adapter without one (the model alias). The default value is 1.</summary>
    public float DefaultScale { get; init; } = 1f;

    public DateTimeOffset AddedUtc { get; init; }
}

/// <summary>What to register a LoRA adapter as.</summary>
public sealed record AdapterRegistration
{
    /// <summary>The adapter's name (see <see cref="AdapterName"/>).</summary>
    public required string Name { get; init; }

    /// <summary>The name of the base model in this store.</summary>
    public required string BaseName { get; init; }

    /// <summary>The scale used when a request gives none. The default value is 1.</summary>
    public float DefaultScale { get; init; } = 1f;
}

/// <summary>The outcome of adding or removing an adapter.</summary>
public sealed record AdapterStoreResult(StoredAdapter? Adapter, StoreError Error, string? Message)
{
    public bool Succeeded => Error == StoreError.None;

    internal static AdapterStoreResult Ok(StoredAdapter adapter) => new(adapter, StoreError.None, null);

    internal static AdapterStoreResult Fail(StoreError error, string message) => new(null, error, message);
}

/// <summary>
/// Adapter names: the model-name rules (<see cref="ModelName"/>) and no '+', which separates a base model from an
/// adapter in the model alias <c>base+adapter</c>.
/// </summary>
public static class AdapterName
{
    /// <summary>Separates the base model and the adapter in a model alias.</summary>
    public const char AliasSeparator = '+';

    public static string? Validate(string? name)
    {
        if (ModelName.Validate(name) is { } error)
        {
            return error.Replace("model name", "adapter name", StringComparison.Ordinal);
        }

        return name!.Contains(AliasSeparator) ? "the adapter name contains '+', which separates base and adapter in a model alias" : null;
    }

    public static bool IsValid(string? name) => Validate(name) is null;
}
