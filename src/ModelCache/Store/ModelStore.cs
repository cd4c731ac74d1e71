using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.ModelCache.Gguf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.ModelCache.Store;

/// <summary>The default <see cref="IModelStore"/>. See src/ModelCache/README.md for the layout and the rules.</summary>
internal sealed partial class ModelStore : IModelStore
{
    private readonly ModelManifest _manifest;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    public ModelStore(StoreLayout layout, TimeProvider time, ILogger<ModelStore> logger)
    {
        Layout = layout;
        _time = time;
        _logger = logger;
        _manifest = ModelManifest.OpenOrCreate(layout);
    }

    public StoreLayout Layout { get; }

    internal ModelManifest Manifest => _manifest;

    public IReadOnlyList<StoredModel> List() => _manifest.List();

    public StoredModel? Find(string name) => ModelName.IsValid(name) ? _manifest.Find(name) : null;

    public ModelBlobWriter CreateWriter()
    {
        Directory.CreateDirectory(Layout.Blobs);
        return ModelBlobWriter.CreateNew(Layout.NewTempBlobPath());
    }

    public async Task<StoreResult> CommitAsync(ModelBlobWriter writer, ModelRegistration registration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(registration);
        if (ModelName.Validate(registration.Name) is { } nameError)
        {
            return Reject(registration.Name, StoreError.InvalidName, nameError, writer);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var (digest, length) = writer.Complete();
        writer.CloseFile();
        return await PublishAsync(writer, digest, length, registration, cancellationToken).ConfigureAwait(false);
    }

    public async Task<StoreResult> ImportAsync(Stream content, ModelRegistration registration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (ModelName.Validate(registration.Name) is { } nameError)
        {
            return StoreResult.Fail(StoreError.InvalidName, nameError);
        }

        await using var writer = CreateWriter();
        await content.CopyToAsync(writer, StoreDefaults.HashBufferBytes, cancellationToken).ConfigureAwait(false);
        return await CommitAsync(writer, registration, cancellationToken).ConfigureAwait(false);
    }

    public async Task<StoreResult> ImportFileAsync(string path, ModelRegistration registration, CancellationToken cancellationToken)
    {
        await using var source = OpenForCopy(path);
        return await ImportAsync(source, registration, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a file to copy into the store: read-only, sequential, unbuffered (the hashing writer buffers).</summary>
    private static FileStream OpenForCopy(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.Open,
        Access = FileAccess.Read,
        Share = FileShare.Read,
        Options = FileOptions.SequentialScan | FileOptions.Asynchronous,
        BufferSize = 0,
    });

    /// <summary>
    /// Publishes a completed, hashed file (a temp file in blobs/ or a finished partial download) under its digest.
    /// The caller's writer is marked committed only when the rename happened.
    /// </summary>
    internal async Task<StoreResult> PublishAsync(ModelBlobWriter writer, Sha256Digest digest, long length, ModelRegistration registration, CancellationToken cancellationToken)
    {
        if (ModelName.Validate(registration.Name) is { } nameError)
        {
            return Reject(registration.Name, StoreError.InvalidName, nameError, writer);
        }

        if (registration.ExpectedSha256 is { } expected && expected != digest)
        {
            return Reject(registration.Name, StoreError.DigestMismatch,
                $"the bytes do not match the expected SHA-256: expected {expected}, got {digest} ({length} bytes); nothing was registered", writer);
        }

        var gguf = GgufReader.Read(writer.TempPath);
        if (!gguf.IsValid)
        {
            return Reject(registration.Name, StoreError.InvalidGguf, $"not a valid GGUF file: {gguf.Error}", writer);
        }

        if (Adapters.LoraAdapterValidator.IsAdapter(gguf.File))
        {
            return Reject(registration.Name, StoreError.InvalidGguf, "a LoRA adapter, not a model: register it with 'models adapter add PATH --base NAME'", writer);
        }

        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var previous = _manifest.Find(registration.Name);
            var looseName = previous?.LooseFileName is { } known && File.Exists(previous.Path) ? known : LooseFileOf(registration.Name);
            if (looseName is not null && !registration.ReplaceLooseFile)
            {
                // Never replace (and so delete) a file the user put in the folder unless asked to.
                return Reject(registration.Name, StoreError.NameTaken,
                    $"the name is used by the loose file '{GgufText.Printable(looseName)}'; choose another name or remove it first", writer);
            }

            var blob = Layout.BlobPath(digest);
            Directory.CreateDirectory(Layout.Blobs);
            // Same bytes either way when the blob exists (same digest): replacing it keeps the rename atomic.
            File.Move(writer.TempPath, blob, overwrite: true);
            writer.Committed = true;
            var model = new StoredModel
            {
                Name = registration.Name,
                Digest = digest,
                SizeBytes = length,
                Path = blob,
                Sources = registration.Sources,
                Lineage = registration.Lineage,
                Metadata = ModelMetadata.From(gguf.File),
                AddedUtc = _time.GetUtcNow(),
            };
            _manifest.Upsert(model);
            _manifest.SetStatus(model, StoredModelStatus.Ok); // other names of a re-fetched blob are served again
            if (looseName is not null)
            {
                // Deleted only once the name is the new blob's: a crash before this leaves the file, never neither.
                File.Delete(Path.Combine(Layout.Root, looseName));
            }

            if (previous is not null && previous.Digest != digest)
            {
                DropIfUnreferenced(previous);
            }

            Log.Registered(_logger, model.Name, digest.Hex, length);
            return StoreResult.Ok(_manifest.Find(model.Name) ?? model);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public async Task<LooseSyncReport> SyncLooseFilesAsync(IProgress<HashProgress>? progress, CancellationToken cancellationToken)
    {
        var hashed = new List<string>();
        var forgotten = new List<string>();
        var skipped = new List<string>();
        var known = _manifest.List().Where(m => m.LooseFileName is not null).ToDictionary(m => m.LooseFileName!, StringComparer.Ordinal);
        var blobNames = _manifest.List().Where(m => m.LooseFileName is null).Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        var present = new HashSet<string>(StringComparer.Ordinal);

        foreach (var file in LooseFiles())
        {
            var fileName = file.Name;
            var name = fileName[..^StoreDefaults.LooseExtension.Length];
            if (ModelName.Validate(name) is not null || blobNames.Contains(name) || Layout.LoosePath(fileName) is null)
            {
                skipped.Add(fileName);
                continue;
            }

            var resolved = file.LinkTarget is null ? file.FullName : file.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
            if (resolved is null || !File.Exists(resolved) || !string.Equals(Path.GetDirectoryName(resolved), Layout.Root, StringComparison.Ordinal))
            {
                skipped.Add(fileName); // broken links and links out of the folder are the catalog's to report
                continue;
            }

            present.Add(fileName);
            var stamp = FileStamp.Of(resolved);
            if (known.TryGetValue(fileName, out var existing) && existing.LooseStamp == stamp && existing.Name == name)
            {
                continue;
            }

            var gguf = stamp.Length >= GgufFormat.HeaderBytes ? GgufReader.Read(resolved) : GgufReadResult.Failure(new GgufError("too short", 0));
            if (!gguf.IsValid || Adapters.LoraAdapterValidator.IsAdapter(gguf.File))
            {
                skipped.Add(fileName); // adapters are registered with 'models adapter add', never as loose models
                continue;
            }

            var report = progress is null ? null : new InlineProgress<long>(done => progress.Report(new HashProgress(fileName, done, stamp.Length)));
            var (digest, length) = await StreamHasher.HashFileAsync(resolved, report, cancellationToken).ConfigureAwait(false);
            var after = FileStamp.Of(resolved);
            if (after != stamp || length != stamp.Length)
            {
                skipped.Add(fileName); // changed while hashed: next sync
                continue;
            }

            _manifest.Upsert(new StoredModel
            {
                Name = name,
                Digest = digest,
                SizeBytes = length,
                Path = file.FullName,
                LooseFileName = fileName,
                LooseStamp = stamp,
                Metadata = ModelMetadata.From(gguf.File),
                AddedUtc = _time.GetUtcNow(),
            });
            Log.LooseHashed(_logger, GgufText.Printable(fileName), digest.Hex);
            hashed.Add(fileName);
        }

        foreach (var (fileName, model) in known)
        {
            if (!present.Contains(fileName) && !skipped.Contains(fileName) && !File.Exists(model.Path))
            {
                _manifest.Remove(model.Name);
                forgotten.Add(fileName);
            }
        }

        return new LooseSyncReport(hashed, forgotten, skipped);
    }

    public async Task<StoreResult> RemoveAsync(string name, CancellationToken cancellationToken)
    {
        if (ModelName.Validate(name) is { } error)
        {
            return StoreResult.Fail(StoreError.InvalidName, error);
        }

        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var model = _manifest.Find(name);
            if (model is null)
            {
                return StoreResult.Fail(StoreError.NotFound, $"no model named '{GgufText.Printable(name)}'");
            }

            _manifest.Remove(name);
            var deleted = DropIfUnreferenced(model);
            Log.Removed(_logger, name, deleted);
            return StoreResult.Ok(model);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public async Task<VerifyReport> VerifyAsync(IProgress<HashProgress>? progress, CancellationToken cancellationToken)
    {
        var results = new List<VerifiedFile>();
        var groups = _manifest.List()
            .Where(m => m.Status == StoredModelStatus.Ok)
            .GroupBy(m => m.Path, StringComparer.Ordinal);
        foreach (var group in groups)
        {
            var first = group.First();
            var names = group.Select(m => m.Name).ToList();
            var sources = group.SelectMany(m => m.Sources).Distinct(StringComparer.Ordinal).ToList();
            if (!File.Exists(first.Path))
            {
                Log.Missing(_logger, first.Path, first.Digest.Hex);
                foreach (var m in group)
                {
                    _manifest.SetStatus(m, StoredModelStatus.Quarantined);
                }

                results.Add(new VerifiedFile(names, first.Path, first.Digest, null, VerifyOutcome.Missing, null, sources));
                continue;
            }

            var stamp = FileStamp.Of(first.Path);
            var label = first.LooseFileName ?? first.Digest.BlobFileName;
            var report = progress is null ? null : new InlineProgress<long>(done => progress.Report(new HashProgress(label, done, first.SizeBytes)));
            var (actual, _) = await StreamHasher.HashFileAsync(first.Path, report, cancellationToken).ConfigureAwait(false);
            if (actual == first.Digest)
            {
                results.Add(new VerifiedFile(names, first.Path, first.Digest, actual, VerifyOutcome.Ok, null, sources));
                continue;
            }

            // A loose file the user replaced or is writing (another stamp, now or during the hash) is a new file for the
            // next sync: moving it to quarantine/ would take the user's file away.
            if (first.LooseFileName is not null && (first.LooseStamp != stamp || stamp != FileStamp.Of(first.Path)))
            {
                results.Add(new VerifiedFile(names, first.Path, first.Digest, actual, VerifyOutcome.Changed, null, sources));
                continue;
            }

            Directory.CreateDirectory(Layout.Quarantine);
            var quarantined = Path.Combine(Layout.Quarantine, $"{first.Digest.BlobFileName}.{_time.GetUtcNow().UtcTicks}");
            File.Move(first.Path, quarantined, overwrite: true);
            foreach (var m in group)
            {
                _manifest.SetStatus(m, StoredModelStatus.Quarantined);
            }

            Log.Quarantined(_logger, first.Path, first.Digest.Hex, actual.Hex, quarantined);
            results.Add(new VerifiedFile(names, first.Path, first.Digest, actual, VerifyOutcome.Quarantined, quarantined, sources));
        }

        DeleteStaleTempFiles();
        return new VerifyReport(results);
    }

    /// <summary>
    /// Temp files a crashed writer left in blobs/ (ours are <c>.incoming-*.tmp</c>; <c>models quantize</c> writes its
    /// output there too, and llama.cpp its own <c>.*.partial</c>): every dot-file, as a blob is never one, a day old, so
    /// no live writer (any process) still owns it.
    /// </summary>
    private void DeleteStaleTempFiles()
    {
        if (!Directory.Exists(Layout.Blobs))
        {
            return;
        }

        var cutoff = _time.GetUtcNow().UtcDateTime - StoreDefaults.StaleTempAge;
        foreach (var temp in new DirectoryInfo(Layout.Blobs).EnumerateFiles(".*"))
        {
            if (temp.LastWriteTimeUtc < cutoff)
            {
                ModelBlobWriter.TryDelete(temp.FullName);
            }
        }
    }

    /// <summary>Deletes the model's file when nothing else uses it; true when a file was deleted.</summary>
    private bool DropIfUnreferenced(StoredModel model)
    {
        var deleted = false;
        if (model.LooseFileName is not null)
        {
            // Removing a loose model removes its file: otherwise the next sync would bring it straight back.
            if (File.Exists(model.Path))
            {
                File.Delete(model.Path);
                deleted = true;
            }
        }
        else if (_manifest.BlobReferences(model.Digest) == 0 && File.Exists(model.Path))
        {
            File.Delete(model.Path);
            deleted = true;
        }

        _manifest.RemoveSourcesIfUnreferenced(model.Digest);
        return deleted;
    }

    public string? LooseFileOf(string name) =>
        LooseFiles().FirstOrDefault(f => string.Equals(f.Name[..^StoreDefaults.LooseExtension.Length], name, StringComparison.Ordinal))?.Name;

    private IEnumerable<FileInfo> LooseFiles()
    {
        var folder = new DirectoryInfo(Layout.Root);
        if (!folder.Exists)
        {
            return [];
        }

        return folder.EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = false, IgnoreInaccessible = true, AttributesToSkip = 0 })
            .Where(f => f.Name.EndsWith(StoreDefaults.LooseExtension, StringComparison.OrdinalIgnoreCase))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToList();
    }

    private StoreResult Reject(string name, StoreError error, string reason, ModelBlobWriter? writer)
    {
        if (writer is not null)
        {
            writer.CloseFile();
            ModelBlobWriter.TryDelete(writer.TempPath);
        }

        Log.Rejected(_logger, GgufText.Printable(name ?? string.Empty), reason);
        return StoreResult.Fail(error, reason);
    }
}

/// <summary>Opens the store of a models folder without dependency injection (CLI, tools, tests).</summary>
public static class ModelStoreFactory
{
    /// <summary>Opens (creating the folders and manifest when missing) the store under <paramref name="directory"/>.</summary>
    public static IModelStore Open(string directory, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) =>
        new ModelStore(new StoreLayout(directory), timeProvider ?? TimeProvider.System,
            (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ModelStore>());
}
