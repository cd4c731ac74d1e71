using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.ModelCache.Store;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>
/// Shares models of the store over BitTorrent and pulls them from peers, through an <see cref="ITorrentEngine"/>
/// (qBittorrent or aria2). Shares are v2 torrents when the engine reads them, else v1, seeded from the blob (a symbolic
/// link in <c>torrents/seed/</c>, added without a check after this class hashed the blob itself); pulls download into <c>torrents/staging/</c> and reach <c>blobs/</c> only by
/// the store's verified rename, after the SHA-256 matched the one the metadata committed to. See docs/torrents.md.
/// Thread-safe.
/// </summary>
public sealed partial class ModelTorrents : IAsyncDisposable
{
    private const int MaxFinishedJobs = 100;

    private readonly IModelStore _store;
    private readonly ITorrentEngine _engine;
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
    private readonly Dictionary<string, (SemaphoreSlim Gate, int Users)> _downloads = new(StringComparer.Ordinal);
    private readonly List<Task> _running = [];
    private int _disposed;

    public ModelTorrents(IModelStore store, ITorrentEngine engine, TorrentTracker tracker, TorrentOptions options, TimeProvider time, ILogger<ModelTorrents> logger)
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

            TorrentMetainfo metainfo;
            Sha256Digest digest;
            await using (var blob = OpenRead(model.Path))
            {
                if (_engine.SupportsV2)
                {
                    var pieceLength = _options.PieceLength != 0 ? _options.PieceLength : TorrentMetainfo.V2PieceLength;
                    var (layer, root, read, length) = await TorrentMetainfo.HashV2Async(blob, pieceLength, cancellationToken).ConfigureAwait(false);
                    (metainfo, digest) = (TorrentMetainfo.CreateV2(name, length, pieceLength, layer, root, model.Digest, announce), read);
                }
                else
                {
                    var pieceLength = _options.PieceLength != 0 ? _options.PieceLength : TorrentMetainfo.ChoosePieceLength(model.SizeBytes);
                    var (pieces, read, length) = await TorrentMetainfo.HashAsync(blob, pieceLength, null, cancellationToken).ConfigureAwait(false);
                    (metainfo, digest) = (TorrentMetainfo.Create(name, length, pieceLength, pieces, model.Digest, announce), read);
                }
            }

            if (digest != model.Digest)
            {
                return new ShareResult(null, TorrentError.DigestMismatch,
                    $"the stored file of '{GgufText.Printable(name)}' no longer matches its SHA-256 (expected {model.Digest}, read {digest}); run 'models verify'");
            }

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

            if (metainfo.Version != 1 && !_engine.SupportsV2)
            {
                continue; // a v2 share made with qBittorrent: kept for when the gateway runs it again
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

        _tracker.Unregister(seed.Metainfo.ShortInfoHash);
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
        _tracker.Register(metainfo.ShortInfoHash);
        var gid = await _engine.AddSeedAsync(metainfo, seedFolder, cancellationToken).ConfigureAwait(false);
        var shared = new SharedModel(metainfo.Name, metainfo.Sha256!.Value, metainfo.Length, metainfo.InfoHash, metainfo.ToMagnet().ToString(), torrentPath);
        lock (_gate)
        {
            _seeds[metainfo.InfoHash] = new Seed(shared, metainfo, seedFolder, gid);
        }

        return shared;
    }

    private async Task ReseedAsync()
    {
        List<Seed> seeds;
        lock (_gate)
        {
            seeds = [.. _seeds.Values];
        }

        foreach (var seed in seeds)
        {
            var gid = await _engine.AddSeedAsync(seed.Metainfo, seed.Folder, _stopping.Token).ConfigureAwait(false);
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

        if (!_engine.SupportsV2 && ((metainfo?.Version ?? 1) != 1 || magnet?.InfoHash.Length == 64))
        {
            return new PullStartResult(null, TorrentError.InvalidSource,
                $"it is a BitTorrent v2 torrent, and the gateway's engine {_engine.Name} reads v1 only (start it with --torrent-engine qbittorrent)");
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

            // One download per torrent at a time: a second pull of the same torrent waits for the first (the staging
            // file is shared) and then finds the model in the store, or downloads it again if the first failed.
            var gate = EnterDownload(metainfo.InfoHash);
            try
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
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
                finally
                {
                    gate.Release();
                }
            }
            finally
            {
                LeaveDownload(metainfo.InfoHash);
            }
        }
        catch (OperationCanceledException)
        {
            job.Fail(TorrentError.Cancelled, "the pull was cancelled (the gateway is stopping)");
        }
        catch (TorrentEngineException e)
        {
            job.Fail(TorrentError.EngineUnavailable, e.Message);
        }
        catch (TorrentEngineRefusedException e)
        {
            job.Fail(TorrentError.TransferFailed, $"{_engine.Name} refused the torrent: {e.Message}");
        }
        catch (IOException e)
        {
            job.Fail(TorrentError.TransferFailed, e.Message);
        }
    }

    private SemaphoreSlim EnterDownload(string infoHash)
    {
        lock (_gate)
        {
            var (gate, users) = _downloads.TryGetValue(infoHash, out var entry) ? entry : (new SemaphoreSlim(1, 1), 0);
            _downloads[infoHash] = (gate, users + 1);
            return gate;
        }
    }

    private void LeaveDownload(string infoHash)
    {
        lock (_gate)
        {
            var (gate, users) = _downloads[infoHash];
            if (users == 1)
            {
                _downloads.Remove(infoHash);
                gate.Dispose();
            }
            else
            {
                _downloads[infoHash] = (gate, users - 1);
            }
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
            var (bytes, fetchError) = await _engine.FetchMetadataAsync(magnet, folder, peers => job.Update(s => s with { Peers = peers }), cancellationToken).ConfigureAwait(false);
            if (bytes is null)
            {
                job.Fail(TorrentError.TransferFailed, fetchError ?? "no peer sent the torrent's metadata");
                return null;
            }

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
    /// Downloads into the staging folder. As soon as the engine reports every piece verified and written — before its
    /// own completion bookkeeping (aria2's lags by about a second) — the download is removed from the engine and the
    /// file's SHA-256 is computed from its bytes. With an engine that downloads in order (qBittorrent), the verified
    /// prefix is hashed while the rest arrives, so only the tail is read after the last piece. Returns a completed
    /// writer over the staged file (its digest computed from the file's bytes), or null after failing the job.
    /// </summary>
    private async Task<ModelBlobWriter?> DownloadAsync(PullJob job, TorrentMetainfo metainfo, CancellationToken cancellationToken)
    {
        var folder = _layout.StagingFolder(metainfo.InfoHash);
        var path = Path.Combine(folder, metainfo.Name);
        Directory.CreateDirectory(folder);
        _tracker.Register(metainfo.ShortInfoHash);
        var peers = await TrackerPeersAsync(metainfo, cancellationToken).ConfigureAwait(false);
        var id = await _engine.AddDownloadAsync(metainfo, folder, peers, cancellationToken).ConfigureAwait(false);
        var generation = _engine.Generation;
        var lastBytes = -1L;
        var lastProgress = _time.GetTimestamp();
        ModelBlobWriter? prefix = null;
        FileStamp prefixStamp = default;
        try
        {
            while (true)
            {
                await Task.Delay(TorrentDefaults.PollInterval, _time, cancellationToken).ConfigureAwait(false);
                var status = await _engine.GetStatusAsync(id, cancellationToken).ConfigureAwait(false);
                if (status is null || _engine.Generation != generation)
                {
                    await _engine.EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
                    id = await _engine.AddDownloadAsync(metainfo, folder, peers, cancellationToken).ConfigureAwait(false);
                    generation = _engine.Generation;
                    continue;
                }

                job.Update(s => s with { BytesDone = status.CompletedLength, BytesPerSecond = status.DownloadSpeed, Peers = status.Connections });
                if (status.CompletedLength != lastBytes)
                {
                    lastBytes = status.CompletedLength;
                    lastProgress = _time.GetTimestamp();
                }

                if (status.IsFailed || _time.GetElapsedTime(lastProgress) > _options.StallTimeout)
                {
                    await _engine.RemoveAsync(id, cancellationToken).ConfigureAwait(false);
                    lock (_gate)
                    {
                        if (!_seeds.ContainsKey(metainfo.InfoHash))
                        {
                            _tracker.Unregister(metainfo.ShortInfoHash);
                        }
                    }

                    job.Fail(TorrentError.TransferFailed, $"the download stopped: {status.ErrorMessage ?? "no bytes from any peer in time"}");
                    return null;
                }

                // Verified pieces are never written again: their bytes on disk are final, so the SHA-256 can read them now.
                var verified = await _engine.GetVerifiedPrefixAsync(id, metainfo, cancellationToken).ConfigureAwait(false);
                if (verified > (prefix?.BytesWritten ?? 0) && File.Exists(path))
                {
                    if (prefix is null)
                    {
                        prefix = ModelBlobWriter.OpenForHashing(path);
                        prefixStamp = FileStamp.Of(path);
                    }

                    await prefix.HashExistingAsync(verified, null, cancellationToken).ConfigureAwait(false);
                }

                // Every piece verified is the end, whatever the engine's byte count says (no waiting for its state change).
                if (status.IsFinished(metainfo.Length, verified))
                {
                    break;
                }
            }
        }
        catch
        {
            if (prefix is not null)
            {
                await prefix.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        job.Update(s => s with { BytesDone = metainfo.Length, State = TorrentPullState.Verifying, BytesPerSecond = 0 });
        ModelBlobWriter? staged;
        if (prefix is not null)
        {
            // The engine lets go of the file first; then the tail is read from the same file (same inode) it wrote.
            await _engine.RemoveAsync(id, cancellationToken).ConfigureAwait(false);
            staged = prefix;
            if (File.Exists(path) && FileStamp.Of(path).Inode == prefixStamp.Inode)
            {
                await staged.HashExistingAsync(long.MaxValue, null, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await staged.DisposeAsync().ConfigureAwait(false);
                staged = null;
            }
        }
        else
        {
            staged = await HashWhileRemovingAsync(id, path, cancellationToken).ConfigureAwait(false);
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
    /// aria2 flushes a piece to the file before it counts it as completed, so the bytes on disk are final: hash them
    /// while aria2 closes the file; the file is taken only once aria2 has let go of it, and hashed again if it changed
    /// meanwhile (size, write time or inode), so the digest is always that of the bytes registered.
    /// </summary>
    private async Task<ModelBlobWriter?> HashWhileRemovingAsync(string id, string path, CancellationToken cancellationToken)
    {
        var removal = _engine.RemoveAsync(id, cancellationToken);
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

        return staged;
    }

    /// <summary>
    /// The peers the torrent's trackers know now, so the engine connects to the seeder at once instead of at its next
    /// announce tick: one announce per tracker with <c>event=stopped</c> (BEP 3), which lists the swarm without joining
    /// it. Best effort: any failure gives no peers, and the engine's own announces still find them.
    /// </summary>
    private async Task<IReadOnlyList<IPEndPoint>> TrackerPeersAsync(TorrentMetainfo metainfo, CancellationToken cancellationToken)
    {
        if (MetainfoClient is not { } http)
        {
            return [];
        }

        var peers = new List<IPEndPoint>();
        var infoHash = string.Concat(Convert.FromHexString(metainfo.ShortInfoHash).Select(b => "%" + b.ToString("x2", CultureInfo.InvariantCulture)));
        var peerId = "-IM0001-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        foreach (var tracker in metainfo.Trackers)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                var separator = tracker.Contains('?', StringComparison.Ordinal) ? '&' : '?';
                var url = $"{tracker}{separator}info_hash={infoHash}&peer_id={peerId}&port=1&uploaded=0&downloaded=0&left={metainfo.Length.ToString(CultureInfo.InvariantCulture)}&compact=1&numwant=50&event=stopped";
                using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode || response.Content.Headers.ContentLength is not (> 0 and <= 64 << 10))
                {
                    continue;
                }

                var body = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                if (Bencode.TryDecode(body, out var value, out _, out _) && value is BDictionary answer)
                {
                    peers.AddRange(CompactPeers(answer["peers"], 4));
                    peers.AddRange(CompactPeers(answer["peers6"], 16));
                }
            }
            catch (Exception e) when ((e is HttpRequestException or OperationCanceledException) && !cancellationToken.IsCancellationRequested)
            {
            }
        }

        return peers.Distinct().Take(TorrentTracker.MaxPeersPerAnswer).ToList();
    }

    private static IEnumerable<IPEndPoint> CompactPeers(BValue? value, int addressBytes)
    {
        if (value is not BString { Bytes: var bytes })
        {
            yield break;
        }

        for (var offset = 0; offset + addressBytes + 2 <= bytes.Length; offset += addressBytes + 2)
        {
            var port = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(offset + addressBytes, 2));
            if (port != 0)
            {
                yield return new IPEndPoint(new IPAddress(bytes.AsSpan(offset, addressBytes)), port);
            }
        }
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
