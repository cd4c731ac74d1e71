using System.Globalization;
using InferenceMesh.Configuration;
using InferenceMesh.ModelCache.Adapters;
using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.ModelCache.Store;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.ModelCache.Catalog;

/// <summary>
/// Lists the valid *.gguf files of one folder and the names of the store's manifest (blobs/sha256-…), when the folder
/// has one. Every file is validated by <see cref="GgufReader"/> before it is listed; results are cached by
/// (resolved path, length, last write time), so a rescan re-reads only changed files. The catalog never creates or
/// writes the manifest and never hashes: loose files get their digest once the store imported them.
/// Rescans are serialised by a lock; readers see an immutable snapshot without locking.
/// </summary>
internal sealed partial class ModelCatalog : IModelCatalog
{
    private readonly ModelCatalogOptions _options;
    private readonly StoreLayout _layout;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, CachedFile> _cache = new(StringComparer.Ordinal);
    private HashSet<string> _reported = new(StringComparer.Ordinal);
    private volatile Snapshot _snapshot = Snapshot.Empty;
    private bool _missingLogged;
    private int _filesRead;

    public ModelCatalog(ModelCatalogOptions options, ILogger<ModelCatalog> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _logger = logger;
        Directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Directory));
        _layout = new StoreLayout(Directory);
        Refresh();
    }

    public string Directory { get; }

    public IReadOnlyList<CatalogEntry> Models => _snapshot.Models;

    public IReadOnlyList<InvalidModelFile> InvalidFiles => _snapshot.Invalid;

    public IReadOnlyList<AdapterEntry> Adapters => _snapshot.Adapters;

    /// <summary>How many times a file was opened and parsed (tests use it to see the cache work).</summary>
    internal int FilesRead => Volatile.Read(ref _filesRead);

    public CatalogEntry? Find(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var snapshot = _snapshot;
        if (_options.RescanOnFind)
        {
            var changed = DirectoryStamp() != snapshot.Stamp
                || (snapshot.ById.TryGetValue(id, out var found) && StampOf(found.ResolvedPath) != found.Stamp);
            if (changed)
            {
                Refresh();
                snapshot = _snapshot;
            }
        }

        return snapshot.ById.TryGetValue(id, out var entry) ? entry.Entry : null;
    }

    public AdapterEntry? FindAdapter(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var snapshot = _snapshot;
        if (_options.RescanOnFind && DirectoryStamp() != snapshot.Stamp)
        {
            Refresh();
            snapshot = _snapshot;
        }

        if (snapshot.Adapters.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.Ordinal)) is { } found)
        {
            return found;
        }

        // The stamps can miss a manifest write made in the same clock tick with the same WAL length (an adapter added by
        // the CLI a moment ago): a name about to be refused is looked up once more in a fresh scan.
        if (!_options.RescanOnFind)
        {
            return null;
        }

        Refresh();
        return _snapshot.Adapters.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.Ordinal));
    }

    public void Refresh()
    {
        lock (_gate)
        {
            _snapshot = Scan();
        }
    }

    private Snapshot Scan()
    {
        var directoryStamp = DirectoryStamp();
        var folder = new DirectoryInfo(Directory);
        if (!folder.Exists)
        {
            if (!_missingLogged)
            {
                Log.FolderMissing(_logger, Directory);
                _missingLogged = true;
            }

            _cache.Clear();
            _reported.Clear();
            return Snapshot.Empty with { Stamp = directoryStamp };
        }

        _missingLogged = false;
        List<FileSystemInfo> candidates;
        try
        {
            candidates = folder
                .EnumerateFileSystemInfos("*", new EnumerationOptions
                {
                    RecurseSubdirectories = false,
                    IgnoreInaccessible = true,
                    AttributesToSkip = 0,
                    MatchType = MatchType.Simple,
                })
                .Where(e => e.Name.EndsWith(ModelCatalogDefaults.Extension, StringComparison.OrdinalIgnoreCase))
                .OrderBy(e => e.Name, StringComparer.Ordinal)
                .ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.ScanFailed(_logger, Directory, e);
            return _snapshot;
        }

        var models = new List<CatalogEntry>();
        var invalid = new List<InvalidModelFile>();
        var byId = new Dictionary<string, ListedModel>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        var filesReadBefore = FilesRead;

        var stored = ReadManifest();
        var looseDigests = stored
            .Where(m => m.LooseFileName is not null && m.Status == StoredModelStatus.Ok)
            .ToDictionary(m => m.LooseFileName!, StringComparer.Ordinal);

        void Reject(FileSystemInfo file, string reason) => RejectNamed(GgufText.Printable(file.Name), file.FullName, reason);

        void RejectNamed(string shownName, string fullName, string reason)
        {
            invalid.Add(new InvalidModelFile(shownName, reason));
            var key = fullName + "\0" + reason;
            reported.Add(key);
            if (!_reported.Contains(key))
            {
                Log.InvalidFile(_logger, shownName, reason);
            }
        }

        foreach (var candidate in candidates)
        {
            try
            {
                var outcome = Examine(candidate, seen, looseDigests);
                switch (outcome)
                {
                    case Outcome.Skip:
                        break;
                    case Outcome.Invalid(var reason):
                        Reject(candidate, reason);
                        break;
                    case Outcome.Valid(var listed) when byId.ContainsKey(listed.Entry.Id):
                        Reject(candidate, $"another file already has the model id '{GgufText.Printable(listed.Entry.Id)}'");
                        break;
                    case Outcome.Valid(var listed):
                        byId.Add(listed.Entry.Id, listed);
                        models.Add(listed.Entry);
                        break;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Reject(candidate, $"cannot read file: {e.Message}");
            }
        }

        // Names of the store's manifest: their files are blobs/sha256-<hex>, built from a validated digest.
        foreach (var model in stored.Where(m => m.LooseFileName is null && m.Status == StoredModelStatus.Ok))
        {
            var shownName = $"{GgufText.Printable(model.Name)} ({model.Digest.BlobFileName})";
            try
            {
                var blob = new FileInfo(model.Path);
                var outcome = blob.Exists
                    ? Validate(model.Name, model.Path, model.Path, seen, model.Digest.Hex)
                    : new Outcome.Invalid("the blob is missing (run 'models verify')");
                switch (outcome)
                {
                    case Outcome.Invalid(var reason):
                        RejectNamed(shownName, model.Path, reason);
                        break;
                    case Outcome.Valid(var listed) when byId.ContainsKey(listed.Entry.Id):
                        RejectNamed(shownName, model.Path, $"another file already has the model id '{GgufText.Printable(listed.Entry.Id)}'");
                        break;
                    case Outcome.Valid(var listed):
                        byId.Add(listed.Entry.Id, listed);
                        models.Add(listed.Entry);
                        break;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                RejectNamed(shownName, model.Path, $"cannot read file: {e.Message}");
            }
        }

        var adapters = ListAdapters(byId, seen, RejectNamed);

        foreach (var stale in _cache.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            _cache.Remove(stale);
        }

        _reported = reported;
        Log.Scanned(_logger, Directory, models.Count, invalid.Count, FilesRead - filesReadBefore);
        return new Snapshot(models, invalid, byId, directoryStamp) { Adapters = adapters };
    }

    /// <summary>
    /// The manifest's adapters whose base model is listed with the digest they were registered against and whose blob
    /// passes the managed adapter checks against that model's file; the others are reported with their reason.
    /// </summary>
    private List<AdapterEntry> ListAdapters(Dictionary<string, ListedModel> byId, HashSet<string> seen, Action<string, string, string> reject)
    {
        var adapters = new List<AdapterEntry>();
        foreach (var adapter in ReadAdapters())
        {
            var shownName = $"adapter {GgufText.Printable(adapter.Name)} ({adapter.Digest.BlobFileName})";
            try
            {
                if (!byId.TryGetValue(adapter.BaseName, out var baseModel))
                {
                    reject(shownName, adapter.Path, $"its base model '{GgufText.Printable(adapter.BaseName)}' is not listed");
                    continue;
                }

                if (!string.Equals(baseModel.Entry.Sha256, adapter.BaseDigest.Hex, StringComparison.Ordinal))
                {
                    reject(shownName, adapter.Path, $"the base model '{GgufText.Printable(adapter.BaseName)}' is not the file it was registered against (sha256 {adapter.BaseDigest.Hex}); add the adapter again");
                    continue;
                }

                var file = ReadCachedFile(adapter.Path, seen);
                var baseFile = _cache.TryGetValue(baseModel.ResolvedPath, out var cachedBase) ? cachedBase.Result.File : null;
                if (file is null || baseFile is null)
                {
                    reject(shownName, adapter.Path, file is null ? "the blob is missing (add the adapter again)" : "the base model could not be read");
                    continue;
                }

                if (!file.Result.IsValid)
                {
                    reject(shownName, adapter.Path, file.Result.Error.ToString());
                    continue;
                }

                var (info, error) = LoraAdapterValidator.Validate(file.Result.File, baseFile);
                if (info is null)
                {
                    reject(shownName, adapter.Path, error!);
                    continue;
                }

                adapters.Add(new AdapterEntry
                {
                    Name = adapter.Name,
                    Path = adapter.Path,
                    SizeBytes = file.Stamp.Length,
                    Sha256 = adapter.Digest.Hex,
                    BaseModel = baseModel.Entry.Id,
                    BaseSha256 = adapter.BaseDigest.Hex,
                    Alpha = info.Alpha,
                    Rank = info.Rank,
                    DefaultScale = adapter.DefaultScale,
                });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                reject(shownName, adapter.Path, $"cannot read file: {e.Message}");
            }
        }

        return adapters;
    }

    private IReadOnlyList<StoredAdapter> ReadAdapters() => ReadFromManifest(m => m.ListAdapters());

    /// <summary>The parsed file at <paramref name="resolved"/>, from the cache while its stamp is unchanged; null when it is gone.</summary>
    private CachedFile? ReadCachedFile(string resolved, HashSet<string> seen)
    {
        var file = new FileInfo(resolved);
        if (!file.Exists)
        {
            return null;
        }

        var stamp = new FileStamp(file.Length, file.LastWriteTimeUtc);
        seen.Add(resolved);
        if (!_cache.TryGetValue(resolved, out var cached) || cached.Stamp != stamp)
        {
            // Files shorter than a header are never opened: this also keeps FIFOs and devices (size 0) from blocking us.
            var result = stamp.Length < GgufFormat.HeaderBytes
                ? GgufReadResult.Failure(new GgufError(
                    stamp.Length > 0 ? $"file of {stamp.Length} bytes is shorter than a GGUF header" : RegularFile.Problem(resolved) ?? "empty file", 0))
                : ReadCounted(resolved);
            cached = new CachedFile(stamp, result);
            _cache[resolved] = cached;
        }

        return cached;
    }

    private IReadOnlyList<StoredModel> ReadManifest() => ReadFromManifest(m => m.List());

    /// <summary>Rows of an existing manifest (never created or migrated here); none when it is missing or unreadable.</summary>
    private IReadOnlyList<T> ReadFromManifest<T>(Func<ModelManifest, IReadOnlyList<T>> read)
    {
        try
        {
            return ModelManifest.OpenExisting(_layout) is { } manifest ? read(manifest) : [];
        }
        catch (SqliteException e)
        {
            Log.ManifestUnreadable(_logger, _layout.Manifest, e);
            return [];
        }
    }

    private Outcome Examine(FileSystemInfo candidate, HashSet<string> seen, Dictionary<string, StoredModel> looseDigests)
    {
        if (candidate is DirectoryInfo)
        {
            return Outcome.Skip.Instance;
        }

        var id = candidate.Name[..^ModelCatalogDefaults.Extension.Length];
        if (id.Contains('\uFFFD', StringComparison.Ordinal))
        {
            // .NET decodes a name that is not UTF-8 with U+FFFD, and that string no longer opens the file: without
            // this the model was silently missing from the list.
            return new Outcome.Invalid("the file name is not valid UTF-8 (or holds U+FFFD): rename the file");
        }

        if (!IsSafeId(id))
        {
            return new Outcome.Invalid("the file name is not a safe model id (empty, control or format characters, or path separators)");
        }

        var resolved = candidate.FullName;
        if (candidate.LinkTarget is not null)
        {
            var target = candidate.ResolveLinkTarget(returnFinalTarget: true);
            if (target is null || !target.Exists)
            {
                return new Outcome.Invalid("broken symbolic link");
            }

            if (target is DirectoryInfo)
            {
                return Outcome.Skip.Instance;
            }

            // Resolve the folder itself too, in case it is reached through a link.
            var realFolder = new DirectoryInfo(Directory).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Directory;
            if (!IsInside(target.FullName, Directory) && !IsInside(target.FullName, realFolder))
            {
                return new Outcome.Invalid("symbolic link points outside the models folder");
            }

            resolved = target.FullName;
        }

        if (!File.Exists(resolved))
        {
            return Outcome.Skip.Instance; // vanished between listing and stat
        }

        // The manifest's digest holds only while the file is exactly as it was hashed (size, write time, inode).
        string? sha256 = null;
        if (looseDigests.TryGetValue(candidate.Name, out var imported) && imported.Name == id
            && imported.LooseStamp == Store.FileStamp.Of(resolved))
        {
            sha256 = imported.Digest.Hex;
        }

        return Validate(id, candidate.FullName, resolved, seen, sha256);
    }

    private Outcome Validate(string id, string path, string resolved, HashSet<string> seen, string? sha256)
    {
        if (ReadCachedFile(resolved, seen) is not { } cached)
        {
            return Outcome.Skip.Instance;
        }

        var stamp = cached.Stamp;
        if (!cached.Result.IsValid)
        {
            return new Outcome.Invalid(cached.Result.Error.ToString());
        }

        var gguf = cached.Result.File;
        if (gguf.Tensors.Count == 0)
        {
            return new Outcome.Invalid("the file has no tensors (a vocabulary-only file?)");
        }

        if (string.IsNullOrEmpty(gguf.Architecture))
        {
            return new Outcome.Invalid("general.architecture is missing");
        }

        if (gguf.HasNestedArrays)
        {
            return new Outcome.Invalid("the metadata has nested arrays, which llama.cpp does not load");
        }

        if (LoraAdapterValidator.IsAdapter(gguf))
        {
            return new Outcome.Invalid("a LoRA adapter, not a model: register it with 'models adapter add PATH --base NAME'");
        }

        var entry = new CatalogEntry
        {
            Id = id,
            Path = path,
            Sha256 = sha256,
            SizeBytes = stamp.Length,
            Architecture = gguf.Architecture,
            TrainContextLength = gguf.ContextLength is { } ctx and > 0 and <= int.MaxValue ? (int)ctx : null,
            ParameterCount = gguf.ParameterCount,
            Quantization = gguf.Quantization,
            HasChatTemplate = gguf.HasChatTemplate,
            License = gguf.License,
            LastWriteUtc = new DateTimeOffset(stamp.LastWriteUtc, TimeSpan.Zero),
        };
        if (!cached.Announced)
        {
            Log.ModelFound(_logger, id, entry.Architecture, entry.Quantization, entry.ParameterCount, entry.SizeBytes);
            cached.Announced = true;
        }

        return new Outcome.Valid(new ListedModel(entry, resolved, stamp));
    }

    private GgufReadResult ReadCounted(string path)
    {
        Interlocked.Increment(ref _filesRead);
        return GgufReader.Read(path, _options.Reader);
    }

    /// <summary>A model id must be safe in logs, JSON, URLs and paths.</summary>
    internal static bool IsSafeId(string id)
    {
        if (id.Length == 0 || id.Trim().Length != id.Length || id is "." or "..")
        {
            return false;
        }

        for (var i = 0; i < id.Length; i++)
        {
            var c = id[i];
            if (char.IsHighSurrogate(c) && i + 1 < id.Length && char.IsLowSurrogate(id[i + 1]))
            {
                i++;
                continue;
            }

            if (char.IsControl(c) || c is '/' or '\\' || char.IsSurrogate(c)
                || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsInside(string path, string folder) =>
        string.Equals(Path.GetDirectoryName(path), folder, StringComparison.Ordinal);

    /// <summary>The folder's write time and the manifest's (and its WAL's): any registration or removal changes one.</summary>
    private FolderStamp DirectoryStamp()
    {
        var info = new DirectoryInfo(Directory);
        if (!info.Exists)
        {
            return default;
        }

        var manifest = new FileInfo(_layout.Manifest);
        var wal = new FileInfo(_layout.Manifest + "-wal");
        return new FolderStamp(
            true,
            info.LastWriteTimeUtc,
            manifest.Exists ? manifest.LastWriteTimeUtc.Ticks ^ manifest.Length : 0,
            wal.Exists ? wal.LastWriteTimeUtc.Ticks ^ wal.Length : 0);
    }

    private readonly record struct FolderStamp(bool Exists, DateTime LastWriteUtc, long Manifest, long Wal);

    private static FileStamp StampOf(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? new FileStamp(info.Length, info.LastWriteTimeUtc) : default;
    }

    private readonly record struct FileStamp(long Length, DateTime LastWriteUtc);

    private sealed class CachedFile(FileStamp stamp, GgufReadResult result)
    {
        public FileStamp Stamp { get; } = stamp;

        public GgufReadResult Result { get; } = result;

        public bool Announced { get; set; }
    }

    private sealed record ListedModel(CatalogEntry Entry, string ResolvedPath, FileStamp Stamp);

    private abstract record Outcome
    {
        public sealed record Skip : Outcome
        {
            public static readonly Skip Instance = new();
        }

        public sealed record Invalid(string Reason) : Outcome;

        public sealed record Valid(ListedModel Model) : Outcome;
    }

    private sealed record Snapshot(
        IReadOnlyList<CatalogEntry> Models,
        IReadOnlyList<InvalidModelFile> Invalid,
        IReadOnlyDictionary<string, ListedModel> ById,
        FolderStamp Stamp)
    {
        public static readonly Snapshot Empty = new([], [], new Dictionary<string, ListedModel>(), default);

        public IReadOnlyList<AdapterEntry> Adapters { get; init; } = [];
    }
}
