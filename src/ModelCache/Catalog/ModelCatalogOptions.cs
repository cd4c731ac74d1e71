using InferenceMesh.ModelCache.Gguf;

namespace InferenceMesh.ModelCache.Catalog;

/// <summary>Configures the <see cref="IModelCatalog"/>. Validated when the catalog is created.</summary>
public sealed record ModelCatalogOptions
{
    /// <summary>
    /// The models folder: its top-level *.gguf files (extension matched case-insensitively) are listed. Required;
    /// a relative path is resolved against the current directory. A missing folder gives an empty catalog and a
    /// logged warning.
    /// </summary>
    public required string Directory { get; init; }

    /// <summary>
    /// When true, <see cref="IModelCatalog.Find"/> first checks (one stat each) whether the folder's listing or the found
    /// file changed and rescans if so. The default value is true.
    /// </summary>
    public bool RescanOnFind { get; init; } = ModelCatalogDefaults.RescanOnFind;

    /// <summary>Limits of the GGUF validation. The default value is <see cref="GgufReaderOptions.Default"/>.</summary>
    public GgufReaderOptions Reader { get; init; } = GgufReaderOptions.Default;

    /// <summary>Throws <see cref="ArgumentException"/> with the reason when the options cannot work.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("ModelCatalogOptions.Directory is required.", nameof(Directory));
        }

        ArgumentNullException.ThrowIfNull(Reader, nameof(Reader));
        if (Reader.MaxStringLength < 1 || Reader.MaxArrayElements < 0 || Reader.MaxMaterializedArrayElements < 0)
        {
            throw new ArgumentException("ModelCatalogOptions.Reader limits must be positive.", nameof(Reader));
        }
    }
}

internal static class ModelCatalogDefaults
{
    public const bool RescanOnFind = true;

    public const string Extension = ".gguf";
}
