using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using InferenceMesh.ModelCache.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.ModelCache.Downloads;

/// <summary>The default <see cref="IModelDownloader"/>; see src/ModelCache/README.md ("Downloads").</summary>
internal sealed partial class ModelDownloader : IModelDownloader
{
    private readonly ModelStore _store;
    private readonly HttpClient _http;
    private readonly DownloadOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public ModelDownloader(ModelStore store, HttpClient http, DownloadOptions options, TimeProvider time, ILogger<ModelDownloader> logger)
    {
        options.Validate();
        _store = store;
        _http = http;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public Task<PullResult> RefetchAsync(VerifiedFile file, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        var sources = file.Sources
            .Select(s => Uri.TryCreate(s, UriKind.Absolute, out var uri) ? uri : null)
            .OfType<Uri>()
            .ToList();
        if (sources.Count == 0 || file.Names.Count == 0)
        {
            return Task.FromResult(new PullResult(null, DownloadError.InvalidRequest,
                $"no known source for sha256 {file.Expected}; pull it again with 'models pull URL --sha256 {file.Expected}'", []));
        }

        return PullAsync(new PullRequest
        {
            Sources = sources,
            Name = file.Names[0],
            ExpectedSha256 = file.Expected,
            Lineage = _store.Find(file.Names[0])?.Lineage,
        }, progress, cancellationToken);
    }

    public async Task<PullResult> PullAsync(PullRequest request, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var attempts = new List<DownloadAttempt>();
        if (ModelName.Validate(request.Name) is { } nameError)
        {
            return new PullResult(null, DownloadError.InvalidRequest, nameError, attempts);
        }

        if (request.Sources is not { Count: > 0 } || request.Sources.Any(u => !u.IsAbsoluteUri || (u.Scheme != Uri.UriSchemeHttp && u.Scheme != Uri.UriSchemeHttps)))
        {
            return new PullResult(null, DownloadError.InvalidRequest, "every source must be an absolute http or https URL", attempts);
        }

        if (_store.LooseFileOf(request.Name) is { } loose)
        {
            return new PullResult(null, DownloadError.InvalidRequest,
                $"the name '{request.Name}' is used by the loose file '{loose}'; choose another name with --name", attempts);
        }

        var expected = request.ExpectedSha256;
        // The partial's name is the expected digest (any mirror may resume it) or the hash of the first URL: never a server's name.
        var key = expected ?? Sha256Digest.FromBytes(SHA256.HashData(Encoding.UTF8.GetBytes(request.Sources[0].AbsoluteUri)));
        var layout = _store.Layout;
        Directory.CreateDirectory(layout.Partial);
        var partPath = layout.PartialPath(key);
        var sidecarPath = layout.SidecarPath(key);
        using var keyLock = TryLockKey(layout.PartialLockPath(key));
        if (keyLock is null)
        {
            return new PullResult(null, DownloadError.InProgress,
                $"this file is already being downloaded by another pull (partial '{partPath}'); wait for it to finish", attempts);
        }

        var sidecar = PartialSidecar.TryRead(sidecarPath);
        if (sidecar is null || sidecar.ExpectedSha256 != expected?.Hex)
        {
            ModelBlobWriter.TryDelete(partPath); // bytes of unknown origin are not resumed
            sidecar = new PartialSidecar { ExpectedSha256 = expected?.Hex };
        }

        var state = new State(sidecar, sidecarPath);
        ModelBlobWriter? writer = null;
        try
        {
            writer = await ModelBlobWriter.OpenAppendAsync(partPath, null, cancellationToken).ConfigureAwait(false);
            string? lastMismatch = null;
            for (var s = 0; s < request.Sources.Count; s++)
            {
                var source = request.Sources[s];
                if (expected is null && writer.BytesWritten > 0 && state.Sidecar.Url != source.AbsoluteUri)
                {
                    // Without a digest, only the same URL's validators can tell that the bytes continue the same file.
                    writer.Restart();
                    state.Sidecar = new PartialSidecar();
                }

                var failures = 0;
                state.Restarts = 0;
                while (true)
                {
                    var outcome = await AttemptAsync(source, writer, state, progress, cancellationToken).ConfigureAwait(false);
                    if (outcome.Kind == AttemptKind.Complete)
                    {
                        var (digest, length) = writer.Complete();
                        writer.CloseFile();
                        if (expected is { } want && want != digest)
                        {
                            Log.DigestMismatch(_logger, source.AbsoluteUri, length, digest.Hex, want.Hex);
                            lastMismatch = $"'{source}' served {length} bytes with sha256 {digest}, expected {want}";
                            attempts.Add(new DownloadAttempt(source, $"wrong bytes: sha256 {digest}"));
                            ModelBlobWriter.TryDelete(partPath);
                            ModelBlobWriter.TryDelete(sidecarPath);
                            await writer.DisposeAsync().ConfigureAwait(false);
                            writer = await ModelBlobWriter.OpenAppendAsync(partPath, null, cancellationToken).ConfigureAwait(false);
                            state.Sidecar = new PartialSidecar { ExpectedSha256 = expected?.Hex };
                            break; // next source
                        }

                        attempts.Add(new DownloadAttempt(source, "complete"));
                        var stored = await _store.PublishAsync(writer, digest, length, new ModelRegistration
                        {
                            Name = request.Name,
                            ExpectedSha256 = expected,
                            Sources = request.Sources.Select(u => u.AbsoluteUri).ToList(),
                            Lineage = request.Lineage,
                        }, cancellationToken).ConfigureAwait(false);
                        ModelBlobWriter.TryDelete(sidecarPath);
                        ModelBlobWriter.TryDelete(partPath); // gone already when published (renamed) or rejected
                        return stored.Succeeded
                            ? new PullResult(stored.Model, DownloadError.None, null, attempts)
                            : new PullResult(null, stored.Error == StoreError.InvalidGguf ? DownloadError.InvalidGguf : DownloadError.InvalidRequest, stored.Message, attempts);
                    }

                    attempts.Add(new DownloadAttempt(source, outcome.Reason));
                    if (outcome.Kind == AttemptKind.DiskFull)
                    {
                        // Another source would fill the same disk.
                        state.Sidecar.Write(sidecarPath);
                        return new PullResult(null, DownloadError.InsufficientSpace,
                            $"{outcome.Reason}; {writer.BytesWritten} bytes are kept for the next pull to resume", attempts);
                    }

                    if (outcome.Kind == AttemptKind.NextSource)
                    {
                        break;
                    }

                    if (state.Restarts > _options.MaxAttemptsPerSource)
                    {
                        // A server that answers a resume with the file from the start again and again (its size or
                        // version keeps changing, or it announces more than it sends) would otherwise loop forever:
                        // each restart receives bytes, which counts as progress.
                        attempts.Add(new DownloadAttempt(source, $"gave up: the server restarted the file {state.Restarts} times"));
                        break;
                    }

                    failures = outcome.MadeProgress ? 0 : failures + 1;
                    if (failures >= _options.MaxAttemptsPerSource)
                    {
                        break;
                    }

                    if (!outcome.MadeProgress && _options.RetryDelay > TimeSpan.Zero)
                    {
                        await Task.Delay(_options.RetryDelay, _time, cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            var summary = string.Join("; ", attempts.Select(a => $"{a.Source}: {a.Outcome}"));
            return lastMismatch is not null
                ? new PullResult(null, DownloadError.DigestMismatch,
                    $"downloaded bytes do not match --sha256 ({lastMismatch}); nothing was registered", attempts)
                : new PullResult(null, DownloadError.AllSourcesFailed,
                    $"every source failed ({summary}); {writer.BytesWritten} bytes are kept for the next pull to resume", attempts);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            var kept = 0L;
            if (writer is not null && writer.CanWrite)
            {
                writer.FlushToDisk();
                kept = writer.BytesWritten;
                state.Sidecar.Write(sidecarPath);
            }

            Log.Cancelled(_logger, kept, partPath);
            return new PullResult(null, DownloadError.Cancelled,
                $"cancelled; {kept} bytes are kept in '{partPath}' and the same pull resumes them", attempts);
        }
        finally
        {
            if (writer is not null)
            {
                var empty = writer.BytesWritten == 0;
                await writer.DisposeAsync().ConfigureAwait(false);
                if (empty)
                {
                    // Nothing worth resuming: leave no empty partial behind.
                    ModelBlobWriter.TryDelete(partPath);
                    ModelBlobWriter.TryDelete(sidecarPath);
                }
            }
        }
    }

    private async Task<AttemptResult> AttemptAsync(Uri source, ModelBlobWriter writer, State state, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var offset = writer.BytesWritten;
        using var request = new HttpRequestMessage(HttpMethod.Get, source);
        if (offset > 0)
        {
            request.Headers.Range = new RangeHeaderValue(offset, null);
            if (state.Sidecar.ETag is { } etag && !etag.StartsWith("W/", StringComparison.Ordinal) && EntityTagHeaderValue.TryParse(etag, out var tag))
            {
                request.Headers.IfRange = new RangeConditionHeaderValue(tag);
            }
            else if (state.Sidecar.LastModified is { } lm && DateTimeOffset.TryParse(lm, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var date))
            {
                request.Headers.IfRange = new RangeConditionHeaderValue(date);
            }

            Log.Resuming(_logger, source.AbsoluteUri, offset);
        }

        // The idle timeout runs on the injected clock; the caller's token cancels it too.
        using var idle = new CancellationTokenSource(_options.IdleTimeout, _time);
        using var link = cancellationToken.Register(static s => ((CancellationTokenSource)s!).Cancel(), idle);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed(source, AttemptKind.Retry, false, $"no response in {_options.IdleTimeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e)
        {
            return Failed(source, AttemptKind.Retry, false, e.Message);
        }

        using (response)
        {
            var etag = response.Headers.ETag?.ToString();
            var lastModified = response.Content.Headers.LastModified?.ToString("R");
            long? total;
            switch (response.StatusCode)
            {
                case HttpStatusCode.PartialContent:
                {
                    var range = response.Content.Headers.ContentRange;
                    var changed = ValidatorsChanged(state.Sidecar, etag, lastModified)
                        || (range?.Length is { } len && state.Sidecar.TotalBytes is { } known && len != known);
                    if (offset == 0 || range?.From != offset || changed)
                    {
                        var why = changed ? "the file changed on the server (ETag, Last-Modified or size)" : "the server answered another range";
                        Log.Restarting(_logger, source.AbsoluteUri, why);
                        writer.Restart();
                        state.Restarts++;
                        state.Sidecar = new PartialSidecar { ExpectedSha256 = state.Sidecar.ExpectedSha256 };
                        return new AttemptResult(AttemptKind.Retry, true, $"restarted: {why}");
                    }

                    total = range.Length;
                    break;
                }

                case HttpStatusCode.OK:
                    if (offset > 0)
                    {
                        var why = ValidatorsChanged(state.Sidecar, etag, lastModified)
                            ? "the file changed on the server"
                            : "the server ignored the Range request (200 instead of 206)";
                        Log.Restarting(_logger, source.AbsoluteUri, why);
                        writer.Restart();
                        state.Restarts++;
                    }

                    total = response.Content.Headers.ContentLength;
                    break;

                case HttpStatusCode.RequestedRangeNotSatisfiable when offset > 0 && state.Sidecar.TotalBytes == offset
                    && !ValidatorsChanged(state.Sidecar, etag, lastModified):
                    return new AttemptResult(AttemptKind.Complete, false, "complete");

                case HttpStatusCode.RequestedRangeNotSatisfiable:
                    Log.Restarting(_logger, source.AbsoluteUri, "the server refused the range");
                    writer.Restart();
                    state.Restarts++;
                    state.Sidecar = new PartialSidecar { ExpectedSha256 = state.Sidecar.ExpectedSha256 };
                    return new AttemptResult(AttemptKind.Retry, true, "restarted: range not satisfiable");

                case >= HttpStatusCode.InternalServerError or HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout:
                    return Failed(source, AttemptKind.Retry, false, $"HTTP {(int)response.StatusCode}");

                case >= HttpStatusCode.MultipleChoices and < HttpStatusCode.BadRequest when response.Headers.Location is not null:
                    // The client follows redirects: one that comes back was refused (it said only "HTTP 302").
                    return Failed(source, AttemptKind.NextSource, false,
                        $"HTTP {(int)response.StatusCode}: a redirect that was not followed (more than 50 in a row, a loop, or from https to http)");

                default:
                    return Failed(source, AttemptKind.NextSource, false, $"HTTP {(int)response.StatusCode}");
            }

            state.Sidecar = new PartialSidecar
            {
                Url = source.AbsoluteUri,
                ETag = etag,
                LastModified = lastModified,
                TotalBytes = total,
                ExpectedSha256 = state.Sidecar.ExpectedSha256,
            };
            state.Sidecar.Write(state.SidecarPath);
            if (total is { } announced && SpaceShortfall(announced - writer.BytesWritten) is { } shortfall)
            {
                return Failed(source, AttemptKind.DiskFull, false, shortfall);
            }

            return await ReadBodyAsync(source, response, total, writer, idle, progress, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<AttemptResult> ReadBodyAsync(
        Uri source, HttpResponseMessage response, long? total, ModelBlobWriter writer, CancellationTokenSource idle,
        IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        long received = 0;
        long sinceCheckpoint = 0;
        var buffer = new byte[DownloadDefaults.BufferBytes];
        if (total is null && SpaceShortfall(0) is { } full)
        {
            return Failed(source, AttemptKind.DiskFull, false, full);
        }

        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(idle.Token).ConfigureAwait(false);
            while (true)
            {
                idle.CancelAfter(_options.IdleTimeout);
                var read = await body.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                if (total is { } t && writer.BytesWritten + read > t)
                {
                    writer.Restart();
                    return Failed(source, AttemptKind.NextSource, false, $"the server sent more than the {t} bytes it announced");
                }

                await writer.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                received += read;
                sinceCheckpoint += read;
                if (sinceCheckpoint >= _options.CheckpointBytes)
                {
                    writer.FlushToDisk();
                    sinceCheckpoint = 0;
                    if (total is null && SpaceShortfall(0) is { } nearlyFull)
                    {
                        return Failed(source, AttemptKind.DiskFull, received > 0, nearlyFull);
                    }
                }

                if (progress is not null)
                {
                    var seconds = _time.GetElapsedTime(started).TotalSeconds;
                    var speed = seconds > 0 ? received / seconds : 0;
                    TimeSpan? eta = total is { } all && speed > 0 ? TimeSpan.FromSeconds((all - writer.BytesWritten) / speed) : null;
                    progress.Report(new DownloadProgress(source, writer.BytesWritten, total, speed, eta));
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            writer.FlushToDisk();
            return Failed(source, AttemptKind.Retry, received > 0, $"no data for {_options.IdleTimeout.TotalSeconds:0} s after {writer.BytesWritten} bytes");
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            writer.FlushToDisk();
            return Failed(source, AttemptKind.Retry, received > 0, $"connection lost after {writer.BytesWritten} bytes: {e.Message}");
        }

        writer.FlushToDisk();
        if (total is { } expectedTotal && writer.BytesWritten < expectedTotal)
        {
            return Failed(source, AttemptKind.Retry, received > 0, $"the body ended at {writer.BytesWritten} of {expectedTotal} bytes");
        }

        return new AttemptResult(AttemptKind.Complete, received > 0, "complete");
    }

    /// <summary>
    /// An exclusive lock (flock on Unix) on the key's lock file, held for the whole pull, or null when another pull (any
    /// process) holds it: two pulls appending to one partial would splice their bytes, and the one that finished second
    /// would write into the blob the first had already renamed and registered.
    /// </summary>
    private static FileStream? TryLockKey(string path)
    {
        try
        {
            return new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                Options = FileOptions.DeleteOnClose,
                BufferSize = 0,
            });
        }
        catch (IOException) when (File.Exists(path))
        {
            return null;
        }
    }

    private string? SpaceShortfall(long more)
    {
        var shortfall = DiskSpace.Shortfall(_store.Layout.Partial, more, _options.MinFreeBytes);
        return shortfall is null || more > 0 ? shortfall : shortfall + ", and the server did not say how large the file is";
    }

    private AttemptResult Failed(Uri source, AttemptKind kind, bool madeProgress, string reason)
    {
        Log.AttemptFailed(_logger, source.AbsoluteUri, reason);
        return new AttemptResult(kind, madeProgress, reason);
    }

    /// <summary>True when the server now names a different version than the partial's sidecar recorded.</summary>
    private static bool ValidatorsChanged(PartialSidecar sidecar, string? etag, string? lastModified) =>
        (sidecar.ETag is not null && etag is not null && sidecar.ETag != etag)
        || (sidecar.LastModified is not null && lastModified is not null && sidecar.LastModified != lastModified);

    private enum AttemptKind
    {
        Complete,
        Retry,
        NextSource,
        DiskFull,
    }

    private readonly record struct AttemptResult(AttemptKind Kind, bool MadeProgress, string Reason);

    private sealed class State(PartialSidecar sidecar, string sidecarPath)
    {
        /// <summary>Times the current source made us start the file again.</summary>
        public int Restarts { get; set; }

        public PartialSidecar Sidecar { get; set; } = sidecar;

        public string SidecarPath { get; } = sidecarPath;
    }
}

/// <summary>Creates an <see cref="IModelDownloader"/> without dependency injection (CLI, tools, tests).</summary>
public static class ModelDownloaderFactory
{
    /// <summary>
    /// A downloader into <paramref name="store"/> (which must come from <see cref="ModelStoreFactory"/>). Without
    /// <paramref name="httpClient"/>, one is made: redirects followed, no cookies, no decompression, no overall timeout
    /// (the idle timeout applies instead).
    /// </summary>
    public static IModelDownloader Create(
        IModelStore store, DownloadOptions? options = null, HttpClient? httpClient = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        var modelStore = store as ModelStore ?? throw new ArgumentException("The store must come from ModelStoreFactory.", nameof(store));
        var http = httpClient ?? new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = true,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        return new ModelDownloader(modelStore, http, options ?? new DownloadOptions(), timeProvider ?? TimeProvider.System,
            (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ModelDownloader>());
    }
}
