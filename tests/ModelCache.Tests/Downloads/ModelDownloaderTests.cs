using InferenceMesh.Tests;
using InferenceMesh.ModelCache.Downloads;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.ModelCache.Tests.Store;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.ModelCache.Tests.Downloads;

public sealed class ModelDownloaderTests : IAsyncLifetime
{
    private static readonly DownloadOptions FastRetries = new() { RetryDelay = TimeSpan.Zero };

    private LoopbackModelServer _server = null!;
    private string _dir = null!;
    private ModelStore _store = null!;

    public async Task InitializeAsync()
    {
        _server = await LoopbackModelServer.StartAsync();
        _dir = TestPaths.NewTempDir();
        _store = new ModelStore(new StoreLayout(_dir), TimeProvider.System, NullLogger<ModelStore>.Instance);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private IModelDownloader Downloader(DownloadOptions? options = null) =>
        ModelDownloaderFactory.Create(_store, options ?? FastRetries);

    private PullRequest Request(params string[] paths) => new()
    {
        Sources = paths.Select(_server.Url).ToList(),
        Name = "stories",
        ExpectedSha256 = StoreTestData.StoriesDigest,
    };

    private void AssertNoPartials() => Assert.Empty(Directory.GetFiles(_store.Layout.Partial));

    [Fact]
    public async Task Pull_RegistersTheVerifiedFile_WithItsSources()
    {
        _server.Serve("/m/stories260K.gguf", StoreTestData.Stories);
        var seen = new List<DownloadProgress>();

        var result = await Downloader().PullAsync(Request("/m/stories260K.gguf"), new InlineProgress<DownloadProgress>(seen.Add), CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(StoreTestData.Stories, File.ReadAllBytes(result.Model!.Path));
        Assert.Equal([_server.Url("/m/stories260K.gguf").AbsoluteUri], _store.Find("stories")!.Sources);
        Assert.Equal(1_185_376, seen[^1].BytesDone);
        Assert.Equal(1_185_376, seen[^1].BytesTotal);
        AssertNoPartials();
    }

    [Fact]
    public async Task ConnectionCutMidBody_ResumesWithRange()
    {
        var file = _server.Serve("/m.gguf", StoreTestData.Stories);
        file.CutOnceAt(400_000);
        file.CutOnceAt(800_000);

        var result = await Downloader().PullAsync(Request("/m.gguf"), null, CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(StoreTestData.StoriesDigest, result.Model!.Digest);
        var requests = _server.Requests.ToList();
        Assert.Equal([200, 206, 206], requests.Select(r => r.Status));
        Assert.Equal("", requests[0].Range);
        Assert.Matches("^bytes=[0-9]+-$", requests[1].Range);
        Assert.True(long.Parse(requests[1].Range[6..^1]) > 0); // resumed, not restarted
        Assert.Equal("\"v1\"", requests[1].IfRange);
        AssertNoPartials();
    }

    [Fact]
    public async Task ServerIgnoringRange_RestartsCleanlyFromZero()
    {
        var file = _server.Serve("/m.gguf", StoreTestData.Stories);
        file.CutOnceAt(500_000);
        file.IgnoreRange = true;

        var result = await Downloader().PullAsync(Request("/m.gguf"), null, CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(StoreTestData.Stories, File.ReadAllBytes(result.Model!.Path));
        var requests = _server.Requests.ToList();
        Assert.Equal(2, requests.Count);
        Assert.NotEqual("", requests[1].Range);
        Assert.Equal(200, requests[1].Status);
    }

    [Fact]
    public async Task FileChangedBetweenRequests_IsNotSplicedOntoTheOldBytes()
    {
        // A broken server that honours Range even when If-Range names the old version: the new ETag tells us.
        var file = _server.Serve("/m.gguf", StoreTestData.Stories);
        file.IgnoreIfRange = true;
        file.CutOnceAt(500_000);
        var other = StoreTestData.OtherStories();
        var downloader = Downloader();
        file.AfterCut = () => file.Change(other); // the next request sees another version

        var result = await downloader.PullAsync(Request("/m.gguf") with { ExpectedSha256 = null }, null, CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.True(other.SequenceEqual(File.ReadAllBytes(result.Model!.Path)), string.Join(" | ", result.Attempts) + string.Join(" | ", _server.Requests));
        Assert.Contains(result.Attempts, a => a.Outcome.Contains("changed on the server"));
    }

    [Fact]
    public async Task FileChanged_WithIfRange_TheServerSendsTheWholeNewFile()
    {
        var file = _server.Serve("/m.gguf", StoreTestData.Stories);
        file.CutOnceAt(500_000);
        var other = StoreTestData.OtherStories();
        file.AfterCut = () => file.Change(other);

        var result = await Downloader().PullAsync(Request("/m.gguf") with { ExpectedSha256 = null }, null, CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.True(other.SequenceEqual(File.ReadAllBytes(result.Model!.Path)), string.Join(" | ", result.Attempts) + string.Join(" | ", _server.Requests));
        Assert.Equal([200, 200], _server.Requests.Select(r => r.Status));
    }

    [Fact]
    public async Task WrongBytes_FailClearly_AndRegisterNothing()
    {
        _server.Serve("/bad.gguf", StoreTestData.Stories).CorruptBytes = true;

        var result = await Downloader().PullAsync(Request("/bad.gguf"), null, CancellationToken.None);

        Assert.Equal(DownloadError.DigestMismatch, result.Error);
        Assert.Contains($"expected {StoreTestData.StoriesDigest}", result.Message);
        Assert.Contains("nothing was registered", result.Message);
        Assert.Empty(_store.List());
        Assert.Empty(Directory.GetFiles(_store.Layout.Blobs));
        AssertNoPartials();
    }

    [Fact]
    public async Task A_file_larger_than_the_free_disk_space_is_refused_before_its_first_byte()
    {
        _server.Serve("/huge.gguf", StoreTestData.Stories).ClaimedLength = 1L << 50; // 1 PiB
        _server.Serve("/mirror.gguf", StoreTestData.Stories);

        var result = await Downloader().PullAsync(Request("/huge.gguf", "/mirror.gguf"), null, CancellationToken.None);

        Assert.Equal(DownloadError.InsufficientSpace, result.Error);
        Assert.Contains("not enough disk space: 1048576.0 GiB more are needed", result.Message, StringComparison.Ordinal);
        Assert.Contains("512.0 MiB are kept free", result.Message, StringComparison.Ordinal);
        Assert.Single(_server.Requests); // neither retried nor sent to the mirror: the disk is the same
        Assert.Empty(_store.List());
        AssertNoPartials();
    }

    [Fact]
    public async Task A_body_of_unknown_length_is_not_written_to_a_disk_below_the_free_space_kept()
    {
        _server.Serve("/chunked.gguf", StoreTestData.Stories).Chunked = true;
        var keepMoreThanAnyDisk = FastRetries with { MinFreeBytes = long.MaxValue / 4 };

        var result = await Downloader(keepMoreThanAnyDisk).PullAsync(Request("/chunked.gguf"), null, CancellationToken.None);

        Assert.Equal(DownloadError.InsufficientSpace, result.Error);
        Assert.Contains("disk is nearly full", result.Message, StringComparison.Ordinal);
        Assert.Contains("the server did not say how large the file is", result.Message, StringComparison.Ordinal);
        AssertNoPartials();

        // The same file from a server of unknown length is fine with the default reserve.
        var fine = await Downloader().PullAsync(Request("/chunked.gguf"), null, CancellationToken.None);
        Assert.True(fine.Succeeded, fine.Message);
    }

    [Fact]
    public async Task A_file_that_changes_under_every_resume_ends_in_a_failure_not_a_loop()
    {
        // Every answer is cut at 600 KB and the file then changes, so each resume gets the whole new version (If-Range)
        // and starts again. Each restart received bytes, which counted as progress, so the pull went on restarting
        // for as long as the server kept changing (dozens of requests here before a cut happened to fall late).
        var file = _server.Serve("/moving.gguf", StoreTestData.Stories);
        var version = 0;
        file.AfterCut = () =>
        {
            var changed = StoreTestData.Stories.ToArray();
            changed[^1] = (byte)++version;
            file.Change(changed);
            file.CutOnceAt(600_000);
        };
        file.CutOnceAt(600_000);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var result = await Downloader().PullAsync(Request("/moving.gguf"), null, deadline.Token);

        Assert.Equal(DownloadError.AllSourcesFailed, result.Error);
        Assert.True(result.Message!.Contains("gave up: the server restarted the file 4 times", StringComparison.Ordinal), result.Message);
        Assert.Equal(5, _server.Requests.Count);
        Assert.Empty(_store.List());
    }

    [Fact]
    public async Task Mirrors_AreTriedInOrder()
    {
        _server.Serve("/a.gguf", StoreTestData.Stories).Status = 404;
        _server.Serve("/b.gguf", StoreTestData.Stories).CorruptBytes = true;
        _server.Serve("/c.gguf", StoreTestData.Stories).Status = 503;
        _server.Serve("/d.gguf", StoreTestData.Stories);

        var result = await Downloader().PullAsync(Request("/a.gguf", "/b.gguf", "/c.gguf", "/d.gguf"), null, CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(["/a.gguf", "/b.gguf", "/c.gguf", "/c.gguf", "/c.gguf", "/d.gguf"], _server.Requests.Select(r => r.Path));
        Assert.Equal(4, _store.Find("stories")!.Sources.Count);
    }

    [Fact]
    public async Task A_redirect_to_another_url_is_followed_and_a_redirect_loop_is_named_as_one()
    {
        var loopA = _server.Serve("/loop-a", []);
        (loopA.Status, loopA.Location) = (302, "/loop-b");
        var loopB = _server.Serve("/loop-b", []);
        (loopB.Status, loopB.Location) = (302, "/loop-a");
        var moved = _server.Serve("/moved", []);
        (moved.Status, moved.Location) = (302, "/m.gguf");
        _server.Serve("/m.gguf", StoreTestData.Stories);

        var result = await Downloader().PullAsync(Request("/loop-a", "/moved"), null, CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(StoreTestData.Stories, File.ReadAllBytes(result.Model!.Path));
        Assert.Equal("HTTP 302: a redirect that was not followed (more than 50 in a row, a loop, or from https to http)", result.Attempts[0].Outcome);
    }

    [Fact]
    public async Task Cancellation_LeavesAResumablePartial_NeverAFinalFile()
    {
        _server.Serve("/m.gguf", StoreTestData.Stories);
        using var cts = new CancellationTokenSource();
        var progress = new InlineProgress<DownloadProgress>(p =>
        {
            if (p.BytesDone >= 300_000)
            {
                cts.Cancel();
            }
        });

        var cancelled = await Downloader().PullAsync(Request("/m.gguf"), progress, cts.Token);

        Assert.Equal(DownloadError.Cancelled, cancelled.Error);
        var part = _store.Layout.PartialPath(StoreTestData.StoriesDigest);
        Assert.True(File.Exists(part));
        Assert.True(File.Exists(_store.Layout.SidecarPath(StoreTestData.StoriesDigest)));
        var kept = new FileInfo(part).Length;
        Assert.InRange(kept, 300_000, 1_185_375);
        Assert.Equal(StoreTestData.Stories.AsSpan(0, (int)kept).ToArray(), File.ReadAllBytes(part));
        Assert.Empty(_store.List());
        Assert.Empty(Directory.GetFiles(_store.Layout.Blobs));

        var resumed = await Downloader().PullAsync(Request("/m.gguf"), null, CancellationToken.None);

        Assert.True(resumed.Succeeded, resumed.Message);
        Assert.Equal($"bytes={kept}-", _server.Requests.Last().Range);
        Assert.Equal(206, _server.Requests.Last().Status);
        AssertNoPartials();
    }

    [Fact]
    public async Task A_second_pull_of_the_same_file_while_the_first_runs_is_refused_and_the_first_completes()
    {
        // Two terminals running the same 'models pull': both would append to one partial, and the one that finished
        // second would write into (or truncate) the blob the first had already renamed and registered.
        _server.Serve("/m.gguf", StoreTestData.Stories);
        PullResult? second = null;
        var progress = new InlineProgress<DownloadProgress>(p =>
        {
            if (p.BytesDone >= 300_000 && second is null)
            {
                second = Downloader().PullAsync(Request("/m.gguf"), null, CancellationToken.None).GetAwaiter().GetResult();
            }
        });

        var first = await Downloader().PullAsync(Request("/m.gguf"), progress, CancellationToken.None);

        Assert.NotNull(second);
        Assert.Equal(DownloadError.InProgress, second.Error);
        Assert.Contains("already being downloaded", second.Message);
        Assert.True(first.Succeeded, first.Message);
        Assert.Equal(StoreTestData.Stories, File.ReadAllBytes(first.Model!.Path));
        Assert.True((await _store.VerifyAsync(null, CancellationToken.None)).AllOk);
        AssertNoPartials();
    }

    [Fact]
    public async Task A_pull_under_the_name_of_a_loose_file_not_hashed_yet_is_refused_before_downloading()
    {
        _server.Serve("/m.gguf", StoreTestData.Stories);
        File.WriteAllBytes(Path.Combine(_dir, "stories.gguf"), StoreTestData.OtherStories());

        var result = await Downloader().PullAsync(Request("/m.gguf"), null, CancellationToken.None);

        Assert.Equal(DownloadError.InvalidRequest, result.Error);
        Assert.Contains("is used by the loose file 'stories.gguf'", result.Message);
        Assert.Empty(_server.Requests);
        Assert.Null(_store.Find("stories"));
    }

    [Fact]
    public async Task UrlPathsAndNames_CannotWriteOutsideTheStore()
    {
        var sandbox = TestPaths.NewTempDir();
        var store = new ModelStore(new StoreLayout(Path.Combine(sandbox, "models")), TimeProvider.System, NullLogger<ModelStore>.Instance);
        _server.Serve("/../../../../etc/passwd.gguf", StoreTestData.Stories);
        _server.Serve("/%2e%2e%2f%2e%2e%2fCON", StoreTestData.Stories);
        var downloader = ModelDownloaderFactory.Create(store, FastRetries);

        foreach (var (url, name) in new[]
        {
            ("/..%2F..%2F..%2Fetc%2Fpasswd.gguf", "ok-1"),
            ("/%2e%2e%2f%2e%2e%2fCON", "ok-2"),
            ("/m.gguf", "../../escape"),
            ("/m.gguf", "/dev/null"),
            ("/m.gguf", "NUL"),
        })
        {
            await downloader.PullAsync(new PullRequest { Sources = [_server.Url(url)], Name = name }, null, CancellationToken.None);
        }

        Assert.All(StoreTestData.Tree(sandbox), p => Assert.StartsWith("models", p));
        Assert.All(Directory.GetFiles(store.Layout.Blobs), f => Assert.Matches("^sha256-[0-9a-f]{64}$", Path.GetFileName(f)));
        Assert.All(Directory.GetFiles(store.Layout.Partial), f => Assert.Matches("^[0-9a-f]{64}\\.(part|json)$", Path.GetFileName(f)));
        Assert.All(store.List(), m => Assert.StartsWith("ok-", m.Name));
    }

    [Fact]
    public async Task Refetch_RestoresAQuarantinedBlobFromItsSources()
    {
        _server.Serve("/m.gguf", StoreTestData.Stories);
        var downloader = Downloader();
        Assert.True((await downloader.PullAsync(Request("/m.gguf"), null, CancellationToken.None)).Succeeded);
        await _store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "alias" }, CancellationToken.None);
        var blob = _store.Find("stories")!.Path;
        File.WriteAllBytes(blob, StoreTestData.OtherStories());

        var report = await _store.VerifyAsync(null, CancellationToken.None);
        var bad = Assert.Single(report.Files);
        Assert.Equal(VerifyOutcome.Quarantined, bad.Outcome);
        Assert.Equal(["alias", "stories"], bad.Names.Order(StringComparer.Ordinal));

        var result = await downloader.RefetchAsync(bad, null, CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(StoreTestData.Stories, File.ReadAllBytes(blob));
        Assert.All(_store.List(), m => Assert.Equal(StoredModelStatus.Ok, m.Status));
        Assert.True((await _store.VerifyAsync(null, CancellationToken.None)).AllOk);
    }

    [Fact]
    public void Options_Defaults()
    {
        var options = new DownloadOptions();
        Assert.Equal(3, options.MaxAttemptsPerSource);
        Assert.Equal(TimeSpan.FromSeconds(1), options.RetryDelay);
        Assert.Equal(TimeSpan.FromSeconds(60), options.IdleTimeout);
        Assert.Equal(16L << 20, options.CheckpointBytes);
    }

    [Fact]
    public void Options_Invalid_ThrowWithTheReason()
    {
        Assert.StartsWith("DownloadOptions.MaxAttemptsPerSource must be at least 1.",
            Assert.Throws<ArgumentException>(() => new DownloadOptions { MaxAttemptsPerSource = 0 }.Validate()).Message);
        Assert.StartsWith("DownloadOptions.RetryDelay must not be negative.",
            Assert.Throws<ArgumentException>(() => new DownloadOptions { RetryDelay = TimeSpan.FromSeconds(-1) }.Validate()).Message);
        Assert.StartsWith("DownloadOptions.IdleTimeout must be positive.",
            Assert.Throws<ArgumentException>(() => new DownloadOptions { IdleTimeout = TimeSpan.Zero }.Validate()).Message);
        Assert.StartsWith("DownloadOptions.CheckpointBytes must be positive.",
            Assert.Throws<ArgumentException>(() => new DownloadOptions { CheckpointBytes = 0 }.Validate()).Message);
    }
}
