namespace InferenceMesh.ModelCache.Store;

/// <summary>
/// The content-addressed model store of one models folder: blobs named by SHA-256, a SQLite manifest of names, and
/// loose *.gguf files imported in place. Every file is hashed while it is written and appears under its final name
/// only after its digest (and the GGUF reader) accepted it. Thread-safe; several processes may share a folder.
/// </summary>
public interface IModelStore
{
    StoreLayout Layout { get; }

    /// <summary>Every name in the manifest (blobs and imported loose files), ordered by name.</summary>
    IReadOnlyList<StoredModel> List();

    StoredModel? Find(string name);

    /// <summary>
    /// The file name of the loose *.gguf file in the folder that gives a model <paramref name="name"/> (NAME.gguf, the
    /// extension in any case), hashed yet or not; null when there is none. Such a name is refused by an import unless
    /// <see cref="ModelRegistration.ReplaceLooseFile"/> is set.
    /// </summary>
    string? LooseFileOf(string name);

    /// <summary>
    /// A stream into a new temp file in <c>blobs/</c> that hashes as it writes. Write the model, then
    /// <see cref="CommitAsync"/>; dispose it either way (an uncommitted temp file is deleted).
    /// </summary>
    ModelBlobWriter CreateWriter();

    /// <summary>
    /// Checks the written bytes (digest against <see cref="ModelRegistration.ExpectedSha256"/> when set, GGUF validity),
    /// fsyncs, renames them to <c>blobs/sha256-&lt;hex&gt;</c> and registers the name. On any failure nothing is
    /// registered and the temp file is deleted.
    /// </summary>
    Task<StoreResult> CommitAsync(ModelBlobWriter writer, ModelRegistration registration, CancellationToken cancellationToken);

    /// <summary>Copies <paramref name="content"/> into the store (hashing while writing) and registers it.</summary>
    Task<StoreResult> ImportAsync(Stream content, ModelRegistration registration, CancellationToken cancellationToken);

    /// <summary>Copies the file at <paramref name="path"/> into the store (the original is left alone) and registers it.</summary>
    Task<StoreResult> ImportFileAsync(string path, ModelRegistration registration, CancellationToken cancellationToken);

    /// <summary>
    /// Registers the top-level *.gguf files of the folder under their file names (without ".gguf"), hashing only
    /// files whose size, write time or inode changed since they were last hashed; forgets files that are gone.
    /// </summary>
    Task<LooseSyncReport> SyncLooseFilesAsync(IProgress<HashProgress>? progress, CancellationToken cancellationToken);

    /// <summary>Removes a name; deletes its blob when no other name uses it, or its loose file.</summary>
    Task<StoreResult> RemoveAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// Re-hashes every file of the manifest. A file whose bytes do not match is moved to <c>quarantine/</c> and its
    /// names are marked <see cref="StoredModelStatus.Quarantined"/>; a missing file is reported.
    /// </summary>
    Task<VerifyReport> VerifyAsync(IProgress<HashProgress>? progress, CancellationToken cancellationToken);

    /// <summary>Every LoRA adapter of the manifest, ordered by name.</summary>
    IReadOnlyList<StoredAdapter> ListAdapters();

    StoredAdapter? FindAdapter(string name);

    /// <summary>
    /// Copies a LoRA adapter GGUF into the store (hashing while writing) and registers it against a base model of the
    /// store, after the copied bytes passed <see cref="Adapters.LoraAdapterValidator"/> against that base. On any failure
    /// nothing is registered and the temp file is deleted. An existing adapter of the same name is replaced.
    /// </summary>
    Task<AdapterStoreResult> AddAdapterAsync(string path, AdapterRegistration registration, CancellationToken cancellationToken);

    /// <summary>Removes an adapter's name; deletes its blob when nothing else uses it.</summary>
    Task<AdapterStoreResult> RemoveAdapterAsync(string name, CancellationToken cancellationToken);
}

/// <summary>Progress of hashing one file.</summary>
public readonly record struct HashProgress(string Label, long BytesDone, long BytesTotal);

/// <summary>What <see cref="IModelStore.SyncLooseFilesAsync"/> did.</summary>
public sealed record LooseSyncReport(IReadOnlyList<string> Hashed, IReadOnlyList<string> Forgotten, IReadOnlyList<string> Skipped);

public enum VerifyOutcome
{
    Ok,

    /// <summary>The bytes did not match; the file is now in quarantine/.</summary>
    Quarantined,

    /// <summary>The file is gone.</summary>
    Missing,

    /// <summary>
    /// A loose file whose size, write time or inode changed since it was hashed (or while it was): a new file for the
    /// next <see cref="IModelStore.SyncLooseFilesAsync"/>, not corruption; left where it is.
    /// </summary>
    Changed,
}

/// <summary>One file checked by a verify.</summary>
public sealed record VerifiedFile(
    IReadOnlyList<string> Names,
    string Path,
    Sha256Digest Expected,
    Sha256Digest? Actual,
    VerifyOutcome Outcome,
    string? QuarantinePath,
    IReadOnlyList<string> Sources);

public sealed record VerifyReport(IReadOnlyList<VerifiedFile> Files)
{
    public bool AllOk => Files.All(f => f.Outcome == VerifyOutcome.Ok);
}
