using System.Globalization;
using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.ModelCache.Store;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>
/// Shares models of the store over BitTorrent and pulls them from peers, through <see cref="Aria2Engine"/>. Shares
/// are seeded read-only from the blob (a symbolic link in <c>torrents/seed/</c>, aria2 with bt-seed-unverified after
/// this class hashed the blob itself); pulls download into <c>torrents/staging/</c> and reach <c>blobs/</c> only by
/// the store's verified rename, after the SHA-256 matched the one the metadata committed to. See docs/torrents.md.
/// Thread-safe.
/// </summary>
public sealed partial class ModelTorrents : IAsyncDisposable
{
    private const int MaxFinishedJobs = 100;

    private readonly IModelStore _store;
    private readonly Aria2Engine _engine;
    private readonly TorrentTracker _tracker;
    private readonly TorrentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TorrentLayout _layout;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _shareGate = new(1, 1);
    private readonly object _gate = new();
    private readonly Dictionary<string, Seed> _seeds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PullJob> _jobs = new(StringComparer.Ordinal);
    private readonly List<Task> _running = [];
    private int _disposed;

    public ModelTorrents(IModelStore store, Aria2Engine engine, TorrentTracker tracker, TorrentOptions options, TimeProvider time, ILogger<ModelTorrents> logger)
    {
        _store = store;
        _engine = engine;
        _tracker = tracker;
        _options = options;
        _time = time;
        _logger = logger;
        _layout = new TorrentLayout(store.Layout);
        _engine.Restarted += ReseedAsync;
    }

    /// <summary>The announce URL written into new torrents (the gateway's own tracker); set by the host once it listens.</summary>
    public Func<string?> AnnounceUrl { get; set; } = () => null;

    /// <summary>
    /// Fetches a magnet's .torrent over HTTP from the gateway behind its tracker URL
    /// (<c>GET /v1/models/torrents/&lt;infohash&gt;</c>) before asking peers (BEP 9): one round trip instead of a swarm
    /// join. The bytes are validated and must hash to the magnet's infohash, so the host cannot substitute anything.
    /// Null turns it off.
    /// </summary>
    public HttpClient? MetainfoClient { get; set; }

    /// <summary>The path under a gateway's address that serves the .torrent of a shared infohash.</summary>
    public const string TorrentFilePath = "/v1/models/torrents/";

    /// <summary>The .torrent of a model this gateway seeds, or null.</summary>
    public byte[]? FindSharedTorrent(string infoHash)
    {
        lock (_gate)
        {
            return _seeds.TryGetValue(infoHash, out var seed) ? seed.Metainfo.Bytes : null;
        }
    }

    /// <summary>The models this gateway seeds.</summary>
    public IReadOnlyList<SharedModel> Shared
    {
        get
        {
            lock (_gate)
            {
                return _seeds.Values.Select(s => s.Model).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
            }
        }
    }

    /// <summary>Creates (or reuses) the torrent of a stored model and seeds it; the magnet is in the result.</summary>
    public async Task<ShareResult> ShareAsync(string name, CancellationToken cancellationToken)
    {
        if (ModelName.Validate(name) is { } nameError)
        {
            return new ShareResult(null, TorrentError.InvalidSource, nameError);
        }

        var model = _store.Find(name);
        if (model is null)
        {
            // A loose *.gguf the store has not hashed yet (models list/verify do it too).
            await _store.SyncLooseFilesAsync(null, cancellationToken).ConfigureAwait(false);
            model = _store.Find(name);
        }

        if (model is null || model.Status != StoredModelStatus.Ok || !File.Exists(model.Path))
        {
            return new ShareResult(null, TorrentError.NotFound, $"no model named '{GgufText.Printable(name)}' in the store (models list shows them)");
        }

        if (AnnounceUrl() is not { } announce)
        {
            return new ShareResult(null, TorrentError.EngineUnavailable, "the gateway has no announce URL yet (it is not listening)");
        }

        await _shareGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _engine.EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                if (_seeds.Values.FirstOrDefault(s => s.Model.Name == name && s.Model.Sha256 == model.Digest) is { } existing)
                {
                    return new ShareResult(existing.Model, TorrentError.None, null);
                }
            }

            var pieceLength = TorrentMetainfo.ChoosePieceLength(model.SizeBytes);
            (byte[] Pieces, Sha256Digest Digest, long Length) hashed;
            await using (var blob = OpenRead(model.Path))
            {
                hashed = await TorrentMetainfo.HashAsync(blob, pieceLength, null, cancellationToken).ConfigureAwait(false);
            }

            if (hashed.Digest != model.Digest)
            {
                return new ShareResult(null, TorrentError.DigestMismatch,
                    $"the stored file of '{GgufText.Printable(name)}' no longer matches its SHA-256 (expected {model.Digest}, read {hashed.Digest}); run 'models verify'");
            }

            var metainfo = TorrentMetainfo.Create(name, hashed.Length, pieceLength, hashed.Pieces, model.Digest, announce);
            var shared = await SeedAsync(metainfo, model.Path, cancellationToken).ConfigureAwait(false);
            Log.Shared(_logger, name, metainfo.InfoHash, model.Digest.Hex);
            return new ShareResult(shared, TorrentError.None, null);
        }
        catch (TorrentEngineException e)
        {
            return new ShareResult(null, TorrentError.EngineUnavailable, e.Message);
        }
        finally
        {
            _shareGate.Release();
        }
    }

    /// <summary>Seeds the torrents saved under <c>torrents/shared/</c> whose model is still in the store (gateway start).</summary>
    public async Task<int> ResumeSharesAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_layout.SharedFolder))
        {
            return 0;
        }

        var resumed = 0;
        foreach (var file in Directory.EnumerateFiles(_layout.SharedFolder, "*.torrent"))
        {
            var bytes = await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
            if (!TorrentMetainfo.TryRead(bytes, out var metainfo, out _) || metainfo.Sha256 is not { } digest
                || _store.List().FirstOrDefault(m => m.Digest == digest && m.Status == StoredModelStatus.Ok && File.Exists(m.Path)) is not { } model)
            {
                File.Delete(file); // the model is gone (or the file is not ours): nothing to seed
                continue;
            }

            await SeedAsync(metainfo, model.Path, cancellationToken).ConfigureAwait(false);
            resumed++;
        }

        return resumed;
    }

    /// <summary>Stops seeding a model (the torrent file is deleted; the model stays).</summary>
    public async Task<bool> UnshareAsync(string infoHash, CancellationToken cancellationToken)
    {
        Seed? seed;
        lock (_gate)
        {
            if (!_seeds.Remove(infoHash, out seed))
            {
                return false;
            }
        }

        _tracker.Unregister(infoHash);
        await _engine.RemoveAsync(seed.Gid, cancellationToken).ConfigureAwait(false);
        File.Delete(seed.Model.TorrentPath);
        DeleteFolder(_layout.SeedFolder(infoHash));
        return true;
    }

    private async Task<SharedModel> SeedAsync(TorrentMetainfo metainfo, string blobPath, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_layout.SharedFolder);
        var torrentPath = _layout.SharedTorrent(metainfo.InfoHash);
        await File.WriteAllBytesAsync(torrentPath, metainfo.Bytes, cancellationToken).ConfigureAwait(false);
        var seedFolder = _layout.SeedFolder(metainfo.InfoHash);
        DeleteFolder(seedFolder);
        Directory.CreateDirectory(seedFolder);
        File.CreateSymbolicLink(Path.Combine(seedFolder, metainfo.Name), blobPath);
        _tracker.Register(metainfo.InfoHash);
        var gid = await _engine.AddTorrentAsync(metainfo.Bytes, SeedOptions(seedFolder), cancellationToken).ConfigureAwait(false);
        var shared = new SharedModel(metainfo.Name, metainfo.Sha256!.Value, metainfo.Length, metainfo.InfoHash, metainfo.ToMagnet().ToString(), torrentPath);
        lock (_gate)
        {
            _seeds[metainfo.InfoHash] = new Seed(shared, metainfo, seedFolder, gid);
        }

        return shared;
    }

    /// <summary>
    /// Seeding never writes: the file is complete (checked by our own hash), so aria2 opens it read-only; seed-ratio 0
    /// seeds until stopped.
    /// </summary>
    private static Dictionary<string, string> SeedOptions(string folder) => new()
    {
        ["dir"] = folder,
        ["seed-ratio"] = "0",
        ["bt-seed-unverified"] = "true",
        ["check-integrity"] = "false",
    };

    private async Task ReseedAsync()
    {
        List<Seed> seeds;
        lock (_gate)
        {
            seeds = [.. _seeds.Values];
        }

        foreach (var seed in seeds)
        {
            var gid = await _engine.AddTorrentAsync(seed.Metainfo.Bytes, SeedOptions(seed.Folder), _stopping.Token).ConfigureAwait(false);
            lock (_gate)
            {
                if (_seeds.ContainsKey(seed.Metainfo.InfoHash))
                {
                    _seeds[seed.Metainfo.InfoHash] = seed with { Gid = gid };
                }
            }
        }

        Log.Reseeded(_logger, seeds.Count);
    }

    /// <summary>Validates the request (before the engine sees anything) and starts a pull job.</summary>
    public PullStartResult StartPull(TorrentPullRequest request)
    {
        MagnetLink? magnet = null;
        TorrentMetainfo? metainfo = null;
        if (request.Magnet is not null == request.Torrent is not null)
        {
            return new PullStartResult(null, TorrentError.InvalidSource, "give either a magnet link or a .torrent file");
        }

        if (request.Magnet is not null && !MagnetLink.TryParse(request.Magnet, out magnet, out var magnetError))
        {
            return new PullStartResult(null, TorrentError.InvalidSource, magnetError);
        }

        if (request.Torrent is not null)
        {
            if (!TorrentMetainfo.TryRead(request.Torrent, out metainfo, out var torrentError))
            {
                return new PullStartResult(null, TorrentError.InvalidSource, torrentError);
            }

            if (CheckDigest(metainfo, request.ExpectedSha256) is { } digestError)
            {
                return new PullStartResult(null, TorrentError.InvalidSource, digestError);
            }
        }

        if (magnet is not null && request.ExpectedSha256 is { } wanted && magnet.Sha256 is { } said && wanted != said)
        {
            return new PullStartResult(null, TorrentError.InvalidSource, $"the magnet's x.sha256 {said} is not the expected {wanted}");
        }

        if (request.Name is not null && ModelName.Validate(request.Name) is { } nameError)
        {
            return new PullStartResult(null, TorrentError.InvalidSource, nameError);
        }

        var id = "tpull_" + Guid.NewGuid().ToString("N")[..16];
        var job = new PullJob(id, request.Name ?? metainfo?.Name ?? magnet!.DisplayName, magnet?.InfoHash ?? metainfo!.InfoHash);
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested)
            {
                return new PullStartResult(null, TorrentError.Cancelled, "the gateway is stopping");
            }

            foreach (var old in _jobs.Values.Where(j => j.Snapshot.State is TorrentPullState.Done or TorrentPullState.Failed)
                .Skip(MaxFinishedJobs).Select(j => j.Id).ToList())
            {
                _jobs.Remove(old);
            }

            _jobs[id] = job;
            var task = Task.Run(() => RunPullAsync(job, request, magnet, metainfo, _stopping.Token));
            _running.Add(task);
            _running.RemoveAll(t => t.IsCompleted);
        }

        return new PullStartResult(id, TorrentError.None, null);
    }

    /// <summary>The current state of a pull job, or null for an unknown id.</summary>
    public TorrentPullStatus? GetPull(string id)
    {
        lock (_gate)
        {
            return _jobs.TryGetValue(id, out var job) ? job.Snapshot : null;
        }
    }

    /// <summary>The final state of a pull job (done or failed) once it has one, or null for an unknown id.</summary>
    public async Task<TorrentPullStatus?> WaitForPullAsync(string id, CancellationToken cancellationToken)
    {
        PullJob? job;
        lock (_gate)
        {
            _jobs.TryGetValue(id, out job);
        }

        return job is null ? null : await job.Finished.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string? CheckDigest(TorrentMetainfo metainfo, Sha256Digest? expected)
    {
        if (metainfo.Sha256 is null && expected is null)
        {
            return "the torrent carries no SHA-256 (info key 'sha256'); give the expected one (--sha256) so the bytes can be checked";
        }

        if (metainfo.Sha256 is { } said && expected is { } wanted && said != wanted)
        {
            return $"the torrent's SHA-256 {said} is not the expected {wanted}";
        }

        return null;
    }

    private async Task RunPullAsync(PullJob job, TorrentPullRequest request, MagnetLink? magnet, TorrentMetainfo? metainfo, CancellationToken cancellationToken)
    {
        try
        {
            if (metainfo is null)
            {
                metainfo = await FetchFromTrackerHostAsync(magnet!, cancellationToken).ConfigureAwait(false)
                    ?? await FetchMetadataAsync(job, magnet!, cancellationToken).ConfigureAwait(false);
                if (metainfo is null)
                {
                    return;
                }

                if (CheckDigest(metainfo, request.ExpectedSha256 ?? magnet!.Sha256) is { } digestError)
                {
                    job.Fail(TorrentError.InvalidSource, digestError);
                    return;
                }
            }

            var digest = metainfo.Sha256 ?? request.ExpectedSha256!.Value;
            var name = request.Name ?? metainfo.Name;
            job.Update(s => s with { Name = name, Sha256 = digest, BytesTotal = metainfo.Length, State = TorrentPullState.Downloading });
            if (_store.Find(name) is { } existing)
            {
                if (existing.Digest == digest && existing.Status == StoredModelStatus.Ok)
                {
                    job.Update(s => s with { State = TorrentPullState.Done, BytesDone = metainfo.Length, Message = "already in the store" });
                    return;
                }

                if (existing.LooseFileName is not null)
                {
                    job.Fail(TorrentError.NameTaken, $"the name '{GgufText.Printable(name)}' is used by a loose file; pull with another name");
                    return;
                }
            }

            if (DiskSpace.Shortfall(_layout.Root, metainfo.Length, _options.MinFreeBytes) is { } shortfall)
            {
                job.Fail(TorrentError.InsufficientSpace, shortfall);
                return;
            }

            var staged = await DownloadAsync(job, metainfo, cancellationToken).ConfigureAwait(false);
            if (staged is null)
            {
                return;
            }

            var result = await RegisterAsync(staged, new ModelRegistration { Name = name, ExpectedSha256 = digest }, cancellationToken).ConfigureAwait(false);
            DeleteFolder(_layout.StagingFolder(metainfo.InfoHash));
            if (!result.Succeeded || result.Model is not { } model)
            {
                job.Fail(result.Error switch
                {
                    StoreError.DigestMismatch => TorrentError.DigestMismatch,
                    StoreError.InvalidGguf => TorrentError.InvalidGguf,
                    StoreError.NameTaken => TorrentError.NameTaken,
                    _ => TorrentError.InvalidSource,
                }, result.Message ?? result.Error.ToString());
                Log.PullRejected(_logger, metainfo.InfoHash, result.Message ?? string.Empty);
                return;
            }

            if (_options.SeedAfterPull)
            {
                await SeedAsync(metainfo, model.Path, cancellationToken).ConfigureAwait(false);
            }

            job.Update(s => s with { State = TorrentPullState.Done });
            Log.Pulled(_logger, name, metainfo.InfoHash, digest.Hex);
        }
        catch (OperationCanceledException)
        {
            job.Fail(TorrentError.Cancelled, "the pull was cancelled (the gateway is stopping)");
        }
        catch (TorrentEngineException e)
        {
            job.Fail(TorrentError.EngineUnavailable, e.Message);
        }
        catch (Aria2RpcException e)
        {
            job.Fail(TorrentError.TransferFailed, "aria2 refused the torrent: " + e.Message);
        }
        catch (IOException e)
        {
            job.Fail(TorrentError.TransferFailed, e.Message);
        }
    }

    private async Task<TorrentMetainfo?> FetchFromTrackerHostAsync(MagnetLink magnet, CancellationToken cancellationToken)
    {
        if (MetainfoClient is not { } http)
        {
            return null;
        }

        foreach (var tracker in magnet.Trackers)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                using var response = await http.GetAsync(new Uri(new Uri(tracker), TorrentFilePath + magnet.InfoHash), HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode || response.Content.Headers.ContentLength is not (> 0 and <= TorrentMetainfo.MaxTorrentBytes))
                {
                    continue;
                }

                var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                if (TorrentMetainfo.TryRead(bytes, out var metainfo, out _) && metainfo.InfoHash == magnet.InfoHash)
                {
                    return metainfo;
                }
            }
            catch (Exception e) when ((e is HttpRequestException or OperationCanceledException) && !cancellationToken.IsCancellationRequested)
            {
                // not a gateway, or not reachable: ask the peers instead
            }
        }

        return null;
    }

    private async Task<TorrentMetainfo?> FetchMetadataAsync(PullJob job, MagnetLink magnet, CancellationToken cancellationToken)
    {
        var folder = _layout.MetadataFolder(job.Id);
        DeleteFolder(folder);
        Directory.CreateDirectory(folder);
        try
        {
            var options = new Dictionary<string, string>
            {
                ["dir"] = folder,
                ["bt-metadata-only"] = "true",
                ["bt-save-metadata"] = "true",
                ["bt-stop-timeout"] = Seconds(_options.MetadataTimeout),
            };
            var magnetText = magnet.ToString();
            var gid = await _engine.AddMagnetAsync(magnetText, options, cancellationToken).ConfigureAwait(false);
            var generation = _engine.Generation;
            var started = _time.GetTimestamp();
            while (true)
            {
                await Task.Delay(TorrentDefaults.PollInterval, _time, cancellationToken).ConfigureAwait(false);
                var status = await _engine.TellStatusAsync(gid, cancellationToken).ConfigureAwait(false);
                if (status is null || _engine.Generation != generation)
                {
                    await _engine.EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
                    gid = await _engine.AddMagnetAsync(magnetText, options, cancellationToken).ConfigureAwait(false);
                    generation = _engine.Generation;
                    continue;
                }

                job.Update(s => s with { Peers = status.Connections });
                if (status.IsComplete)
                {
                    await _engine.RemoveAsync(gid, cancellationToken).ConfigureAwait(false);
                    break;
                }

                if (status.IsFailed || _time.GetElapsedTime(started) > _options.MetadataTimeout)
                {
                    await _engine.RemoveAsync(gid, cancellationToken).ConfigureAwait(false);
                    job.Fail(TorrentError.TransferFailed, $"no peer sent the torrent's metadata ({status.ErrorMessage ?? "timed out"})");
                    return null;
                }
            }

            var path = Path.Combine(folder, magnet.InfoHash + ".torrent");
            var info = new FileInfo(path);
            if (!info.Exists || info.Length > TorrentMetainfo.MaxTorrentBytes)
            {
                job.Fail(TorrentError.TransferFailed, "aria2 did not save the torrent's metadata");
                return null;
            }

            var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
            if (!TorrentMetainfo.TryRead(bytes, out var metainfo, out var error))
            {
                job.Fail(TorrentError.InvalidSource, "the peers' metadata was refused: " + error);
                return null;
            }

            if (metainfo.InfoHash != magnet.InfoHash)
            {
                job.Fail(TorrentError.InvalidSource, "the peers' metadata does not hash to the magnet's infohash");
                return null;
            }

            return metainfo;
        }
        finally
        {
            DeleteFolder(folder);
        }
    }

    /// <summary>
    /// Downloads into the staging folder. As soon as aria2 reports every piece verified (SHA-1) and written — before
    /// its own completion bookkeeping, which lags by about a second — the download is removed from aria2 while the
    /// file's SHA-256 is computed. Returns a completed writer over the staged file (its digest computed from the
    /// file's bytes), or null after failing the job.
    /// </summary>
    private async Task<ModelBlobWriter?> DownloadAsync(PullJob job, TorrentMetainfo metainfo, CancellationToken cancellationToken)
    {
        var folder = _layout.StagingFolder(metainfo.InfoHash);
        var path = Path.Combine(folder, metainfo.Name);
        Directory.CreateDirectory(folder);
        var options = new Dictionary<string, string>
        {
            ["dir"] = folder,
            ["seed-time"] = "0",
            ["check-integrity"] = "true", // resumes a partial staging file after a restart
            ["bt-stop-timeout"] = Seconds(_options.StallTimeout),
        };
        _tracker.Register(metainfo.InfoHash);
        var gid = await _engine.AddTorrentAsync(metainfo.Bytes, options, cancellationToken).ConfigureAwait(false);
        var generation = _engine.Generation;
        var lastBytes = -1L;
        var lastProgress = _time.GetTimestamp();
        while (true)
        {
            await Task.Delay(TorrentDefaults.PollInterval, _time, cancellationToken).ConfigureAwait(false);
            var status = await _engine.TellStatusAsync(gid, cancellationToken).ConfigureAwait(false);
            if (status is null || _engine.Generation != generation)
            {
                await _engine.EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
                gid = await _engine.AddTorrentAsync(metainfo.Bytes, options, cancellationToken).ConfigureAwait(false);
                generation = _engine.Generation;
                continue;
            }

            job.Update(s => s with { BytesDone = status.CompletedLength, BytesPerSecond = status.DownloadSpeed, Peers = status.Connections });
            if (status.CompletedLength != lastBytes)
            {
                lastBytes = status.CompletedLength;
                lastProgress = _time.GetTimestamp();
            }

            if (status.IsComplete || status.HasAllBytes(metainfo.Length))
            {
                break;
            }

            if (status.IsFailed || _time.GetElapsedTime(lastProgress) > _options.StallTimeout)
            {
                await _engine.RemoveAsync(gid, cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    if (!_seeds.ContainsKey(metainfo.InfoHash))
                    {
                        _tracker.Unregister(metainfo.InfoHash);
                    }
                }

                job.Fail(TorrentError.TransferFailed, $"the download stopped: {status.ErrorMessage ?? "no bytes from any peer in time"}");
                return null;
            }
        }

        // aria2 flushes a piece to the file before it counts it as completed, so the bytes on disk are final: hash
        // them while aria2 closes the file; the file is taken only once aria2 has let go of it, and hashed again if
        // it changed meanwhile (size, write time or inode), so the digest is always that of the bytes registered.
        job.Update(s => s with { BytesDone = metainfo.Length, State = TorrentPullState.Verifying, BytesPerSecond = 0 });
        var removal = _engine.RemoveAsync(gid, cancellationToken);
        ModelBlobWriter? staged = null;
        FileStamp? hashedStamp = null;
        try
        {
            if (File.Exists(path))
            {
                hashedStamp = FileStamp.Of(path);
                staged = await ModelBlobWriter.OpenAppendAsync(path, null, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await removal.ConfigureAwait(false);
        }

        if (staged is not null && File.Exists(path) && FileStamp.Of(path) != hashedStamp)
        {
            await staged.DisposeAsync().ConfigureAwait(false);
            staged = await ModelBlobWriter.OpenAppendAsync(path, null, cancellationToken).ConfigureAwait(false);
        }

        // Only the one file the validated metainfo names, as a plain file of the announced size, is taken.
        var file = new FileInfo(path);
        if (staged is null || !file.Exists || file.LinkTarget is not null || file.Length != metainfo.Length || staged.BytesWritten != metainfo.Length
            || !string.Equals(file.DirectoryName, Path.GetFullPath(folder), StringComparison.Ordinal))
        {
            if (staged is not null)
            {
                await staged.DisposeAsync().ConfigureAwait(false);
            }

            job.Fail(TorrentError.TransferFailed, "the downloaded file is missing or has the wrong size");
            return null;
        }

        return staged;
    }

    /// <summary>
    /// Lets the store rename the staged file into blobs/ only when the SHA-256 of its bytes (hashed by
    /// <see cref="DownloadAsync"/> as they arrived) is the expected one; otherwise the file is deleted.
    /// </summary>
    private async Task<StoreResult> RegisterAsync(ModelBlobWriter staged, ModelRegistration registration, CancellationToken cancellationToken)
    {
        await using (staged)
        {
            if (_store is not ModelStore store)
            {
                staged.CloseFile();
                return await _store.ImportFileAsync(staged.TempPath, registration, cancellationToken).ConfigureAwait(false);
            }

            var (digest, length) = staged.Complete();
            staged.CloseFile();
            var result = await store.PublishAsync(staged, digest, length, registration, cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                ModelBlobWriter.TryDelete(staged.TempPath);
            }

            return result;
        }
    }

    private static string Seconds(TimeSpan span) => ((long)Math.Ceiling(span.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    private static FileStream OpenRead(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.Open,
        Access = FileAccess.Read,
        Share = FileShare.Read,
        Options = FileOptions.SequentialScan | FileOptions.Asynchronous,
        BufferSize = 0,
    });

    private static void DeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true); // symbolic links are removed, never followed
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _engine.Restarted -= ReseedAsync;
        Task[] running;
        lock (_gate)
        {
            _stopping.Cancel();
            running = [.. _running];
        }

        try
        {
            await Task.WhenAll(running).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }

    private sealed record Seed(SharedModel Model, TorrentMetainfo Metainfo, string Folder, string Gid);

    private sealed class PullJob(string id, string? name, string infoHash)
    {
        private readonly object _gate = new();
        private readonly TaskCompletionSource<TorrentPullStatus> _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TorrentPullStatus _status = new() { Id = id, State = TorrentPullState.Metadata, Name = name, InfoHash = infoHash };

        public string Id => id;

        /// <summary>Completes with the status that first reached done or failed.</summary>
        public Task<TorrentPullStatus> Finished => _finished.Task;

        public TorrentPullStatus Snapshot
        {
            get
            {
                lock (_gate)
                {
                    return _status;
                }
            }
        }

        public void Update(Func<TorrentPullStatus, TorrentPullStatus> change)
        {
            TorrentPullStatus status;
            lock (_gate)
            {
                status = _status = change(_status);
            }

            if (status.State is TorrentPullState.Done or TorrentPullState.Failed)
            {
                _finished.TrySetResult(status);
            }
        }

        public void Fail(TorrentError error, string message) =>
            Update(s => s with { State = TorrentPullState.Failed, Error = error, Message = message, BytesPerSecond = 0 });
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 610, Level = LogLevel.Information, Message = "sharing {Name} as torrent {InfoHash} (sha256 {Digest})")]
        public static partial void Shared(ILogger logger, string name, string infoHash, string digest);

        [LoggerMessage(EventId = 611, Level = LogLevel.Information, Message = "pulled {Name} from torrent {InfoHash} (sha256 {Digest})")]
        public static partial void Pulled(ILogger logger, string name, string infoHash, string digest);

        [LoggerMessage(EventId = 612, Level = LogLevel.Warning, Message = "torrent {InfoHash}: the downloaded file was not registered: {Reason}")]
        public static partial void PullRejected(ILogger logger, string infoHash, string reason);

        [LoggerMessage(EventId = 613, Level = LogLevel.Information, Message = "aria2 restarted: {Count} shared models seeded again")]
        public static partial void Reseeded(ILogger logger, int count);
    }
}
