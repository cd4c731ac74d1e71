using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using InferenceMesh.Gateway.Cli;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.ModelCache.Torrents;
using InferenceMesh.Tests;
using InferenceMesh.Gateway.Tests.Routing;
using InferenceMesh.Gateway.Torrents;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Gateway.Tests.Torrents;

/// <summary>
/// Two real gateways (Kestrel on loopback port 0, separate models folders), each with its own real engine: share on
/// A, pull on B through B's gateway and through the CLI; a lying seeder; hostile sources; a missing engine. The
/// scenarios run with qBittorrent (<see cref="TorrentDistributionTests"/>, every one) and aria2
/// (<see cref="Aria2DistributionTests"/>, those where the engine matters most).
/// </summary>
public abstract class TorrentGatewayScenarios : IAsyncLifetime
{
    private readonly List<TestEnvironment> _gateways = [];
    private readonly List<string> _folders = [];
    private readonly List<int> _aria2Pids = [];

    /// <summary>The --torrent-engine of every gateway started here.</summary>
    protected abstract string Engine { get; }

    private bool IsQBittorrent => Engine == TorrentEngines.QBittorrent;

    private string MagnetPrefix => IsQBittorrent ? "magnet:?xt=urn:btmh:1220" : "magnet:?xt=urn:btih:";
    protected static readonly string StoriesSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(TestPaths.Stories260K)));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var gateway in _gateways)
        {
            if (gateway.App.Services.GetRequiredService<ITorrentEngine>().ProcessId is { } pid)
            {
                _aria2Pids.Add(pid);
            }

            await gateway.DisposeAsync();
        }

        foreach (var folder in _folders)
        {
            Directory.Delete(folder, recursive: true);
        }

        // No engine outlives its gateway.
        foreach (var pid in _aria2Pids)
        {
            Assert.False(IsAlive(pid), $"{Engine} (pid {pid}) is still running after its gateway stopped");
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private protected Task<TestEnvironment> StartGatewayAsync(bool withStories, params string[] extraArgs) => StartGatewayAsync(withStories, null, extraArgs);

    private protected async Task<TestEnvironment> StartGatewayAsync(bool withStories, Action<TestEnvironment>? configure, params string[] extraArgs)
    {
        extraArgs = ["--torrent-engine", Engine, .. extraArgs];
        var folder = TestPaths.NewTempDir("im-torrent");
        _folders.Add(folder);
        if (withStories)
        {
            var store = ModelStoreFactory.Open(folder);
            var imported = await store.ImportFileAsync(TestPaths.Stories260K, new ModelRegistration { Name = TestEnvironment.Stories }, CancellationToken.None);
            Assert.True(imported.Succeeded, imported.Message);
        }

        var gateway = await TestEnvironment.StartAsync(e =>
        {
            e.ModelsDirectory = folder;
            e.ExtraArgs.AddRange(extraArgs);
            configure?.Invoke(e);
        });
        _gateways.Add(gateway);
        return gateway;
    }

    protected static async Task<(int Exit, string Out, string Err)> Cli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await ModelsCli.RunAsync(args, output, error, new ModelsCliEnvironment(), CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>Waits for the pull job's final state in B's engine, then reads it as a client sees it.</summary>
    private protected static async Task<JsonElement> FinishedPullAsync(TestEnvironment gateway, string id)
    {
        var final = await gateway.App.Services.GetRequiredService<ModelTorrents>().WaitForPullAsync(id, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.NotNull(final);
        return await gateway.Http.GetFromJsonAsync<JsonElement>($"/v1/models/pulls/{id}");
    }

    private protected static async Task<string[]> ListedAsync(TestEnvironment gateway)
    {
        var list = await gateway.Http.GetFromJsonAsync<JsonElement>("/v1/models");
        return [.. list.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!)];
    }

    /// <summary>SIGKILLs the engine's process and waits until it is gone; the task completes when the engine has restarted it.</summary>
    private async Task<(int Pid, Task Restarted)> KillEngineAsync(ITorrentEngine engine)
    {
        var pid = engine.ProcessId!.Value;
        _aria2Pids.Add(pid);
        var restarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Restarted += () =>
        {
            restarted.TrySetResult();
            return Task.CompletedTask;
        };
        using var process = Process.GetProcessById(pid);
        process.Kill();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        return (pid, restarted.Task);
    }

    /// <summary>The peer ports a tracker hands out for a torrent (asked as a peer that leaves at once, so it stays out of the swarm).</summary>
    protected async Task Cli_SharesOnA_PullsTheMagnetOnB_WhichListsItWithTheRightDigest()
    {
        var a = await StartGatewayAsync(withStories: true);
        var b = await StartGatewayAsync(withStories: false);

        var share = await Cli("models", "share", TestEnvironment.Stories, "--gateway", a.BaseAddress.AbsoluteUri);
        Assert.True(share.Exit == 0, share.Err);
        var magnet = share.Out.TrimEnd().Split('\n')[^1].Trim();
        Assert.StartsWith(MagnetPrefix, magnet);
        Assert.True(MagnetLink.TryParse(magnet, out var parsed, out _));
        Assert.Equal(StoriesSha, parsed.Sha256?.Hex);
        Assert.Equal(new Uri(a.BaseAddress, "/announce").AbsoluteUri, Assert.Single(parsed.Trackers));

        var pull = await Cli("models", "pull", magnet, "--gateway", b.BaseAddress.AbsoluteUri);
        Assert.True(pull.Exit == 0, pull.Err);
        Assert.Contains($"Pulled {TestEnvironment.Stories}: sha256 {StoriesSha}", pull.Out);

        Assert.Contains(TestEnvironment.Stories, await ListedAsync(b));
        var onB = ModelStoreFactory.Open(b.ModelsDirectory).Find(TestEnvironment.Stories);
        Assert.NotNull(onB);
        Assert.Equal(StoriesSha, onB.Digest.Hex);
        Assert.Equal(StoriesSha, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(onB.Path))));
        // aria2 wrote only into staging, which is gone; the seeder's blob is untouched.
        Assert.False(Directory.Exists(Path.Combine(b.ModelsDirectory, "torrents", "staging", parsed.InfoHash)));
        var onA = ModelStoreFactory.Open(a.ModelsDirectory).Find(TestEnvironment.Stories)!;
        Assert.Equal(StoriesSha, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(onA.Path))));

        // Sharing again gives the same magnet (same torrent, already seeded).
        var again = await Cli("models", "share", TestEnvironment.Stories, "--gateway", a.BaseAddress.AbsoluteUri);
        Assert.Equal(magnet, again.Out.TrimEnd().Split('\n')[^1].Trim());
    }

    protected async Task ALyingSeeder_WhoseBytesDoNotMatchTheCommittedDigest_IsNeverRegistered()
    {
        var a = await StartGatewayAsync(withStories: false);
        var b = await StartGatewayAsync(withStories: false);

        // A copy with one byte of tensor data changed: still a valid GGUF, other SHA-256. The torrent claims the real digest.
        var tampered = File.ReadAllBytes(TestPaths.Stories260K);
        tampered[^10] ^= 0x55;
        var seedFolder = TestPaths.NewTempDir("im-liar");
        _folders.Add(seedFolder);
        File.WriteAllBytes(Path.Combine(seedFolder, TestEnvironment.Stories), tampered);
        var pieceLength = TorrentMetainfo.MinPieceLength;
        var announce = new Uri(a.BaseAddress, "/announce").AbsoluteUri;
        TorrentMetainfo lie;
        Sha256Digest actual;
        if (IsQBittorrent)
        {
            var (layer, root, digest, length) = await TorrentMetainfo.HashV2Async(new MemoryStream(tampered), pieceLength, CancellationToken.None);
            (lie, actual) = (TorrentMetainfo.CreateV2(TestEnvironment.Stories, length, pieceLength, layer, root, Sha256Digest.Parse(StoriesSha), announce), digest);
        }
        else
        {
            var (pieces, digest, length) = await TorrentMetainfo.HashAsync(new MemoryStream(tampered), pieceLength, null, CancellationToken.None);
            (lie, actual) = (TorrentMetainfo.Create(TestEnvironment.Stories, length, pieceLength, pieces, Sha256Digest.Parse(StoriesSha), announce), digest);
        }

        Assert.NotEqual(StoriesSha, actual.Hex);

        // A's own engine and tracker seed the lying torrent (a real peer serving wrong bytes, whose pieces match them).
        a.App.Services.GetRequiredService<TorrentTracker>().Register(lie.ShortInfoHash);
        await a.App.Services.GetRequiredService<ITorrentEngine>().AddSeedAsync(lie, seedFolder, CancellationToken.None);

        // aria2, by magnet: A's gateway does not serve this torrent over HTTP, so B's aria2 gets the metadata from the
        // peer (BEP 9). libtorrent never sends a private torrent's metadata to a peer, so qBittorrent gets the .torrent.
        var source = IsQBittorrent ? Convert.ToBase64String(lie.Bytes) : lie.ToMagnet().ToString();
        using var response = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var job = await FinishedPullAsync(b, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);

        Assert.Equal("failed", job.GetProperty("state").GetString());
        Assert.Equal("digest_mismatch", job.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains(actual.Hex, job.GetProperty("error").GetProperty("message").GetString());
        Assert.DoesNotContain(TestEnvironment.Stories, await ListedAsync(b));
        Assert.Empty(ModelStoreFactory.Open(b.ModelsDirectory).List());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(b.ModelsDirectory, "blobs")));
        Assert.False(Directory.Exists(Path.Combine(b.ModelsDirectory, "torrents", "staging", lie.InfoHash)));
    }

    protected async Task A_torrent_url_on_this_machine_is_fetched_for_a_caller_on_this_machine()
    {
        var a = await StartGatewayAsync(withStories: true);
        var b = await StartGatewayAsync(withStories: false);
        using var share = await a.Http.PostAsJsonAsync("/v1/models/share", new { name = TestEnvironment.Stories });
        var infohash = (await share.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("infohash").GetString()!;

        // The address check (TorrentUrlFetcher) lets a loopback caller name a loopback URL.
        var url = new Uri(a.BaseAddress, ModelTorrents.TorrentFilePath + infohash).AbsoluteUri;
        using var response = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source = url });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var job = await FinishedPullAsync(b, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);

        Assert.Equal("done", job.GetProperty("state").GetString());
        Assert.Contains(TestEnvironment.Stories, await ListedAsync(b));
    }

    protected async Task WithoutTheEngine_ShareAndPullSayWhyInOneLine_AndTheRestOfTheGatewayWorks()
    {
        var (flag, path, package) = IsQBittorrent ? ("--qbittorrent-nox", "/nonexistent/qbittorrent-nox", "qbittorrent-nox") : ("--aria2c", "/nonexistent/aria2c", "aria2");
        var a = await StartGatewayAsync(true, flag, path);

        var share = await Cli("models", "share", TestEnvironment.Stories, "--gateway", a.BaseAddress.AbsoluteUri);
        Assert.Equal(1, share.Exit);
        Assert.Equal(
            $"inference-mesh: share failed: BitTorrent is unavailable: the BitTorrent engine '{path}' was not found (install the Debian package '{package}')",
            share.Err.Trim());

        var pull = await Cli("models", "pull", "magnet:?xt=urn:btih:" + new string('a', 40), "--gateway", a.BaseAddress.AbsoluteUri);
        Assert.Equal(1, pull.Exit);
        Assert.Contains($"not found (install the Debian package '{package}')", pull.Err);
        Assert.Single(pull.Err.Trim().Split('\n'));

        Assert.Contains(TestEnvironment.Stories, await ListedAsync(a));
    }

    protected async Task Dht_IsOffByDefault_AndTheFlagTurnsItOn(bool dht)
    {
        var a = dht ? await StartGatewayAsync(true, "--torrent-dht", "true") : await StartGatewayAsync(true);
        using var share = await a.Http.PostAsJsonAsync("/v1/models/share", new { name = TestEnvironment.Stories });
        Assert.Equal(HttpStatusCode.OK, share.StatusCode);

        var engine = a.App.Services.GetRequiredService<ITorrentEngine>();
        var arguments = File.ReadAllText($"/proc/{engine.ProcessId!.Value}/cmdline").Split('\0');
        if (engine is QBittorrentEngine qbittorrent)
        {
            // The config is written before each start: WebUI on loopback with localhost authentication on, only a PBKDF2 hash.
            var configPath = Path.Combine(qbittorrent.ProfileFolder!, "qBittorrent", "config", "qBittorrent.conf");
            var config = File.ReadAllText(configPath);
            Assert.Contains(dht ? "Session\\DHTEnabled=true" : "Session\\DHTEnabled=false", config);
            Assert.Contains("WebUI\\Address=127.0.0.1", config);
            Assert.Contains("WebUI\\LocalHostAuth=true", config);
            Assert.Matches(@"WebUI\\Password_PBKDF2=""@ByteArray\([A-Za-z0-9+/=]{24}:[A-Za-z0-9+/=]{88}\)""", config);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, OperatingSystem.IsWindows() ? UnixFileMode.UserRead | UnixFileMode.UserWrite : File.GetUnixFileMode(configPath) & (UnixFileMode)0x1FF);

            // A local process without the password gets nothing from the WebUI API (no localhost bypass).
            var port = System.Text.RegularExpressions.Regex.Match(config, @"WebUI\\Port=(\d+)").Groups[1].Value;
            using var stranger = new HttpClient();
            using var version = await stranger.GetAsync($"http://127.0.0.1:{port}/api/v2/app/version");
            Assert.Equal(HttpStatusCode.Forbidden, version.StatusCode);
            using var guess = await stranger.PostAsync($"http://127.0.0.1:{port}/api/v2/auth/login",
                new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "admin", ["password"] = "adminadmin" }));
            Assert.DoesNotContain("Ok.", await guess.Content.ReadAsStringAsync());
        }
        else
        {
            Assert.Contains(dht ? "--enable-dht=true" : "--enable-dht=false", arguments);
            Assert.Contains("--rpc-listen-all=false", arguments);
        }

        Assert.DoesNotContain(arguments, a => a.Contains("secret", StringComparison.OrdinalIgnoreCase) || a.Contains("password", StringComparison.OrdinalIgnoreCase));
    }

    protected async Task WhenTheEngineDies_TheGatewayStartsItAgain_AndSeedsItsSharesAgain()
    {
        var a = await StartGatewayAsync(withStories: true);
        var b = await StartGatewayAsync(withStories: false);
        var share = await Cli("models", "share", TestEnvironment.Stories, "--gateway", a.BaseAddress.AbsoluteUri);
        Assert.True(share.Exit == 0, share.Err);
        var engine = a.App.Services.GetRequiredService<ITorrentEngine>();
        var (first, restarted) = await KillEngineAsync(engine);

        await restarted.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, engine.Generation);
        Assert.NotNull(engine.ProcessId);

        Assert.NotEqual(first, engine.ProcessId);
        // This time from the .torrent file (the CLI sends it in base64).
        Assert.True(MagnetLink.TryParse(share.Out.TrimEnd().Split('\n')[^1].Trim(), out var magnet, out _));
        var torrentFile = Path.Combine(a.ModelsDirectory, "torrents", "shared", magnet.InfoHash + ".torrent");
        var pull = await Cli("models", "pull", torrentFile, "--name", "copy", "--gateway", b.BaseAddress.AbsoluteUri);
        Assert.True(pull.Exit == 0, pull.Err);
        Assert.Contains("Pulled copy: sha256 " + StoriesSha, pull.Out);
    }

    protected async Task WhenAnotherProcessTookItsPeerPort_ARestartedEngineListensOnANewOne_AnnouncesIt_AndSeedsAgain()
    {
        var a = await StartGatewayAsync(withStories: true);
        var b = await StartGatewayAsync(withStories: false);
        var share = await Cli("models", "share", TestEnvironment.Stories, "--gateway", a.BaseAddress.AbsoluteUri);
        Assert.True(share.Exit == 0, share.Err);
        Assert.True(MagnetLink.TryParse(share.Out.TrimEnd().Split('\n')[^1].Trim(), out var magnet, out _));
        var engine = a.App.Services.GetRequiredService<ITorrentEngine>();
        var oldPort = engine.PeerPort;
        var tracker = a.App.Services.GetRequiredService<TorrentTracker>();
        var announcedNewPort = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tracker.Announced += request =>
        {
            if (request.InfoHash == magnet.InfoHash[..40] && request.Event != "stopped" && request.Port != oldPort && request.Port == engine.PeerPort)
            {
                announcedNewPort.TrySetResult();
            }
        };

        // Kill aria2 and take its peer port (TCP and UDP, every interface) before the supervisor's first restart (1 s backoff).
        var (first, restarted) = await KillEngineAsync(engine);
        var squatter = TcpListener.Create(oldPort);
        squatter.Start();
        using var udpSquatter = new UdpClient(AddressFamily.InterNetworkV6);
        udpSquatter.Client.DualMode = true;
        udpSquatter.Client.Bind(new IPEndPoint(IPAddress.IPv6Any, oldPort));
        try
        {
            await restarted.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEqual(first, engine.ProcessId);
            Assert.NotEqual(oldPort, engine.PeerPort);

            // The new aria2 announces its new port to A's tracker when the share is added again (at its next refresh).
            await announcedNewPort.Task.WaitAsync(TimeSpan.FromSeconds(15));

            // B pulls from A's restarted aria2 within a bound well under the tracker's 60 s re-announce interval
            // (after which A could reach B the other way round, hiding a seeder that cannot be reached).
            var torrent = File.ReadAllBytes(Path.Combine(a.ModelsDirectory, "torrents", "shared", magnet.InfoHash + ".torrent"));
            using var response = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source = Convert.ToBase64String(torrent), name = "copy" });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
            await b.App.Services.GetRequiredService<ModelTorrents>().WaitForPullAsync(id, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(40));
            var job = await b.Http.GetFromJsonAsync<JsonElement>($"/v1/models/pulls/{id}");
            Assert.True(job.GetProperty("state").GetString() == "done", job.ToString());
            Assert.Contains("copy", await ListedAsync(b));
        }
        finally
        {
            squatter.Stop();
        }
    }
}

/// <summary>The scenarios with qBittorrent (the default engine, BitTorrent v2), and what does not depend on the engine.</summary>
public sealed class TorrentDistributionTests : TorrentGatewayScenarios
{
    protected override string Engine => TorrentEngines.QBittorrent;

    [Fact]
    public Task Cli_SharesOnA_PullsTheMagnetOnB_WhichListsItWithTheRightDigest_V2() => Cli_SharesOnA_PullsTheMagnetOnB_WhichListsItWithTheRightDigest();

    [Fact]
    public Task ALyingSeeder_IsNeverRegistered_V2() => ALyingSeeder_WhoseBytesDoNotMatchTheCommittedDigest_IsNeverRegistered();

    [Fact]
    public Task A_torrent_url_on_this_machine_is_fetched_V2() => A_torrent_url_on_this_machine_is_fetched_for_a_caller_on_this_machine();

    [Fact]
    public Task WithoutQBittorrent_ShareAndPullSayWhyInOneLine() => WithoutTheEngine_ShareAndPullSayWhyInOneLine_AndTheRestOfTheGatewayWorks();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public Task Dht_IsOffByDefault_AndTheFlagTurnsItOn_AndTheWebUiNeedsTheGatewaysPassword(bool dht) => Dht_IsOffByDefault_AndTheFlagTurnsItOn(dht);

    [Fact]
    public async Task Two_pulls_of_the_same_torrent_at_once_both_end_with_the_model_in_the_store()
    {
        // The second used to fail: both jobs gave the engine the same torrent and the same staging file.
        var a = await StartGatewayAsync(withStories: true);
        var b = await StartGatewayAsync(withStories: false);
        using var share = await a.Http.PostAsJsonAsync("/v1/models/share", new { name = TestEnvironment.Stories });
        var magnet = (await share.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("magnet").GetString()!;

        using var first = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source = magnet });
        using var second = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source = magnet });
        var jobs = await Task.WhenAll(
            FinishedPullAsync(b, (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!),
            FinishedPullAsync(b, (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!));

        Assert.All(jobs, job => Assert.True(job.GetProperty("state").GetString() == "done", job.ToString()));
        Assert.Contains(jobs, job => job.TryGetProperty("sha256", out var sha) && sha.GetString() == StoriesSha);
        Assert.Equal(StoriesSha, Assert.Single(ModelStoreFactory.Open(b.ModelsDirectory).List()).Digest.Hex);
    }

    [Fact]
    public Task WhenQBittorrentDies_TheGatewayStartsItAgain_AndSeedsItsSharesAgain() => WhenTheEngineDies_TheGatewayStartsItAgain_AndSeedsItsSharesAgain();

    [Fact]
    public Task WhenAnotherProcessTookItsPeerPort_ARestartedQBittorrentListensOnANewOne() => WhenAnotherProcessTookItsPeerPort_ARestartedEngineListensOnANewOne_AnnouncesIt_AndSeedsAgain();

    [Fact]
    public async Task With_eager_start_the_engine_runs_after_the_gateways_start_without_any_pull_and_a_pull_right_after_start_works()
    {
        // The default (on demand), with nothing saved to seed: the gateway's start leaves the engine unstarted.
        var a = await StartGatewayAsync(withStories: true);
        await StartedUpAsync(a);
        var onDemand = EngineOf(a);
        Assert.Null(onDemand.ProcessId);
        Assert.Equal(0, onDemand.Generation);
        using var share = await a.Http.PostAsJsonAsync("/v1/models/share", new { name = TestEnvironment.Stories });
        Assert.Equal(HttpStatusCode.OK, share.StatusCode);
        var magnet = (await share.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("magnet").GetString()!;

        // Eager, and never asked for anything: the engine runs once the start's background work is done.
        var idle = await StartGatewayAsync(false, "--torrent-engine-start", "eager");
        await StartedUpAsync(idle);
        var eager = EngineOf(idle);
        Assert.Equal(1, eager.Generation);
        using (var process = Process.GetProcessById(eager.ProcessId!.Value))
        {
            Assert.Equal("qbittorrent-nox", process.ProcessName);
        }

        // Its WebUI answers (an unknown torrent is null, not an error), and that call started nothing.
        Assert.Null(await eager.GetStatusAsync(new string('0', 40), CancellationToken.None));
        Assert.Equal(1, eager.Generation);

        // Eager, and pulled the moment its host has started: the pull waits for the start under way instead of making its own.
        var b = await StartGatewayAsync(false, "--torrent-engine-start", "eager");
        using var pull = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source = magnet });
        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var job = await FinishedPullAsync(b, (await pull.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        Assert.True(job.GetProperty("state").GetString() == "done", job.ToString());
        Assert.Contains(TestEnvironment.Stories, await ListedAsync(b));
        await StartedUpAsync(b);
        Assert.Equal(1, EngineOf(b).Generation);
    }

    [Fact]
    public async Task An_eager_start_that_fails_is_logged_once_the_gateway_serves_and_a_share_tries_the_start_again()
    {
        var logs = new CapturingLoggerProvider();
        var a = await StartGatewayAsync(true, e => e.ConfigureBuilder = builder => builder.Logging.AddProvider(logs),
            "--torrent-engine-start", "eager", "--qbittorrent-nox", "/nonexistent/qbittorrent-nox");
        await StartedUpAsync(a);
        const string Reason = "the BitTorrent engine '/nonexistent/qbittorrent-nox' was not found (install the Debian package 'qbittorrent-nox')";

        var logged = Assert.Single(logs.Entries, l => l.Contains("[622]", StringComparison.Ordinal));
        Assert.Contains($"the BitTorrent engine qbittorrent did not start with the gateway: {Reason}; share and pull will try again", logged);
        using var health = await a.Http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Contains(TestEnvironment.Stories, await ListedAsync(a));

        using var share = await a.Http.PostAsJsonAsync("/v1/models/share", new { name = TestEnvironment.Stories });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, share.StatusCode);
        var error = (await share.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("torrent_engine_unavailable", error.GetProperty("code").GetString());
        Assert.Equal("BitTorrent is unavailable: " + Reason, error.GetProperty("message").GetString());
        Assert.Single(logs.Entries, l => l.Contains("[622]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task When_qBittorrents_WebUI_session_ends_the_gateway_logs_in_again_and_share_pull_and_status_still_work()
    {
        var a = await StartGatewayAsync(withStories: true);
        var b = await StartGatewayAsync(withStories: false);
        var seeder = (QBittorrentEngine)EngineOf(a);
        var puller = (QBittorrentEngine)EngineOf(b);
        await seeder.EnsureStartedAsync(CancellationToken.None);
        await puller.EnsureStartedAsync(CancellationToken.None);
        var endedOnA = await EndSessionAsync(seeder);
        var endedOnB = await EndSessionAsync(puller);

        using var share = await a.Http.PostAsJsonAsync("/v1/models/share", new { name = TestEnvironment.Stories });
        Assert.Equal(HttpStatusCode.OK, share.StatusCode);
        Assert.NotEqual(endedOnA, seeder.SessionId);
        var shared = await share.Content.ReadFromJsonAsync<JsonElement>();

        using var pull = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source = shared.GetProperty("magnet").GetString() });
        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var job = await FinishedPullAsync(b, (await pull.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        Assert.True(job.GetProperty("state").GetString() == "done", job.ToString());
        Assert.NotEqual(endedOnB, puller.SessionId);

        // B seeds what it pulled; with its session ended once more, the engine still reports that seed.
        await EndSessionAsync(puller);
        var seed = await puller.GetStatusAsync(shared.GetProperty("infohash").GetString()![..40], CancellationToken.None);
        Assert.NotNull(seed);
        Assert.Equal(new FileInfo(TestPaths.Stories260K).Length, seed.TotalLength);

        // No restart of an engine hid the ended sessions.
        Assert.Equal(1, seeder.Generation);
        Assert.Equal(1, puller.Generation);
    }

    [Fact]
    public async Task When_qBittorrent_refuses_the_gateways_new_login_a_share_fails_with_an_error_that_says_so()
    {
        var a = await StartGatewayAsync(withStories: true);
        var engine = (QBittorrentEngine)EngineOf(a);
        await engine.EnsureStartedAsync(CancellationToken.None);
        // Another program holding the session changes the WebUI password, and the session ends.
        await EndSessionAsync(engine, newPassword: "not-the-gateways");

        using var share = await a.Http.PostAsJsonAsync("/v1/models/share", new { name = TestEnvironment.Stories });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, share.StatusCode);
        var error = (await share.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("torrent_engine_unavailable", error.GetProperty("code").GetString());
        Assert.Equal(
            "BitTorrent is unavailable: qBittorrent's WebUI refused the gateway's login after its session ended (it answered 200 'Fails.'): its password was"
            + " changed by another program, or it banned 127.0.0.1 after failed logins; restart the gateway to start the engine with a new password",
            error.GetProperty("message").GetString());
        var status = await Assert.ThrowsAsync<TorrentEngineException>(() => engine.GetStatusAsync(new string('0', 40), CancellationToken.None));
        Assert.Equal(error.GetProperty("message").GetString(), "BitTorrent is unavailable: " + status.Message);
    }

    private static ITorrentEngine EngineOf(TestEnvironment gateway) => gateway.App.Services.GetRequiredService<ITorrentEngine>();

    /// <summary>The gateway start's background work: the eager engine start and the seeding of saved shares.</summary>
    private static Task StartedUpAsync(TestEnvironment gateway) =>
        gateway.App.Services.GetServices<IHostedService>().OfType<TorrentHostedService>().Single().StartedUp.WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>
    /// Ends the engine's WebUI session for real, as another program holding its cookie would (qBittorrent's
    /// <c>auth/logout</c>), after changing the WebUI password first when <paramref name="newPassword"/> is given; returns the ended session.
    /// </summary>
    private static async Task<string> EndSessionAsync(QBittorrentEngine engine, string? newPassword = null)
    {
        var sid = engine.SessionId!;
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, UseProxy = false });
        async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, HttpContent? content = null)
        {
            using var request = new HttpRequestMessage(method, new Uri(engine.WebUiAddress!, "api/v2/" + path)) { Content = content };
            request.Headers.Add("Cookie", "SID=" + sid);
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, "app/version"));
        if (newPassword is not null)
        {
            var preferences = new FormUrlEncodedContent(new Dictionary<string, string> { ["json"] = JsonSerializer.Serialize(new Dictionary<string, string> { ["web_ui_password"] = newPassword }) });
            Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Post, "app/setPreferences", preferences));
        }

        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Post, "auth/logout"));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(HttpMethod.Get, "app/version"));
        return sid;
    }

    [Fact]
    public async Task A_model_larger_than_the_free_disk_space_is_refused_before_the_engine_downloads_it()
    {
        var b = await StartGatewayAsync(withStories: false);
        // A valid torrent of a file 1 TiB larger than what is free on B's disk (64 MiB pieces keep it small).
        var free = new DriveInfo(b.ModelsDirectory).AvailableFreeSpace;
        var length = free + (1L << 40);
        var pieceLength = TorrentMetainfo.MaxPieceLength;
        var pieces = new byte[(length + pieceLength - 1) / pieceLength * 20];
        var huge = TorrentMetainfo.Create("huge", length, pieceLength, pieces, Sha256Digest.Parse(StoriesSha), new Uri(b.BaseAddress, "/announce").AbsoluteUri);

        using var response = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source = Convert.ToBase64String(huge.Bytes) });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var job = await FinishedPullAsync(b, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);

        // Before, aria2 was given the torrent and wrote into the staging folder until the disk was full.
        Assert.Equal("failed", job.GetProperty("state").GetString());
        Assert.Equal("insufficient_space", job.GetProperty("error").GetProperty("code").GetString());
        Assert.StartsWith("not enough disk space: ", job.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(b.ModelsDirectory, "torrents", "staging", huge.InfoHash)));
    }

    public static TheoryData<string, string> HostileSources() => new()
    {
        { Convert.ToBase64String(TorrentFixtures.SingleFile("../evil")), "not a valid model name" },
        { Convert.ToBase64String(TorrentFixtures.SingleFile("/etc/passwd")), "not a valid model name" },
        { Convert.ToBase64String(TorrentFixtures.SingleFile("NUL.gguf")), "not a valid model name" },
        { Convert.ToBase64String(TorrentFixtures.MultiFile()), "several files" },
        { Convert.ToBase64String(TorrentFixtures.SingleFile("ok", sha256: new string('A', 64))), "64 lowercase hex" },
        { "magnet:?xt=urn:btih:" + new string('a', 40) + "&x.sha256=" + new string('F', 64), "64 lowercase hex" },
        { "magnet:?xt=urn:btih:" + new string('a', 40) + "&dn=..%2Fx", "not a valid model name" },
        { "magnet:?xt=urn:btih:abc", "40 lowercase hex" },
        { "not a torrent", "magnet link" },
        // The gateway fetches a .torrent URL itself: never from a cloud metadata service (link-local), whoever asks.
        { "http://169.254.169.254/latest/meta-data/x.torrent", "link-local address, which the gateway never fetches from" },
        { "http://[fe80::1]/x.torrent", "link-local address, which the gateway never fetches from" },
        { "magnet:?xt=urn:btih:" + new string('a', 40) + "&tr=http%3A%2F%2F169.254.169.254%2Fannounce", "tracker at a link-local address" },
    };

    [Theory]
    [MemberData(nameof(HostileSources))]
    public async Task HostileSources_AreRefusedWith400_BeforeTheEngineSeesThem(string source, string reason)
    {
        var b = await StartGatewayAsync(withStories: false);

        using var response = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains(reason, error.GetProperty("message").GetString());
        Assert.False(Directory.Exists(Path.Combine(b.ModelsDirectory, "torrents", "staging")));
    }

    [Theory]
    [InlineData("../x.gguf")]
    [InlineData("/etc/passwd")]
    [InlineData("CON")]
    [InlineData("")]
    public async Task A_hostile_name_is_a_400_that_names_the_name_for_pull_and_share(string name)
    {
        // The source is fine; the name was refused as "The torrent source was refused: …" with param 'source'.
        var b = await StartGatewayAsync(withStories: false);
        var source = "magnet:?xt=urn:btih:" + new string('a', 40) + "&x.sha256=" + new string('b', 64);

        using var pull = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source, name });
        using var share = await b.Http.PostAsJsonAsync("/v1/models/share", new { name }); // was "The torrent source was refused: …"

        foreach (var response in new[] { pull, share })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Equal("name", error.GetProperty("param").GetString());
            Assert.StartsWith("'name' is not a valid model name: ", error.GetProperty("message").GetString());
        }

        Assert.False(Directory.Exists(Path.Combine(b.ModelsDirectory, "torrents", "staging")));
    }

    [Theory]
    [InlineData("--torrent-dht", "maybe", "--torrent-dht must be true or false (got 'maybe').")]
    [InlineData("--torrent-announce", "udp://x:1", "--torrent-announce must be an http(s) URL (got 'udp://x:1').")]
    [InlineData("--torrent-engine", "utorrent", "--torrent-engine must be qbittorrent or aria2 (got 'utorrent').")]
    [InlineData("--torrent-piece-kib", "20", "--torrent-piece-kib must be a power of two from 16 to 65536 (got '20').")]
    [InlineData("--torrent-engine-start", "lazy", "--torrent-engine-start must be eager or on-demand (got 'lazy').")]
    public void BadTorrentFlags_AreOneLineErrors(string flag, string value, string message)
    {
        var error = Assert.Throws<GatewayOptionsException>(() => InferenceMesh.Gateway.Hosting.GatewayApp.Build(["--port", "0", flag, value]));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public async Task ShareOfAnUnknownModel_Is404_AndTheTrackerRefusesUnknownTorrents()
    {
        var a = await StartGatewayAsync(withStories: false);

        using var share = await a.Http.PostAsJsonAsync("/v1/models/share", new { name = "nope" });
        Assert.Equal(HttpStatusCode.NotFound, share.StatusCode);

        var announce = await a.Http.GetByteArrayAsync("/announce?info_hash=" + string.Concat(Enumerable.Repeat("%41", 20)) + "&peer_id=" + string.Concat(Enumerable.Repeat("%42", 20)) + "&port=6881");
        Assert.Contains("unknown torrent", System.Text.Encoding.ASCII.GetString(announce));
    }
}

/// <summary>The scenarios where the engine matters most, with aria2 (BitTorrent v1).</summary>
public sealed class Aria2DistributionTests : TorrentGatewayScenarios
{
    protected override string Engine => TorrentEngines.Aria2;

    [Fact]
    public Task Cli_SharesOnA_PullsTheMagnetOnB_WhichListsItWithTheRightDigest_V1() => Cli_SharesOnA_PullsTheMagnetOnB_WhichListsItWithTheRightDigest();

    [Fact]
    public Task ALyingSeeder_IsNeverRegistered_V1() => ALyingSeeder_WhoseBytesDoNotMatchTheCommittedDigest_IsNeverRegistered();

    [Fact]
    public Task WithoutAria2_ShareAndPullSayWhyInOneLine() => WithoutTheEngine_ShareAndPullSayWhyInOneLine_AndTheRestOfTheGatewayWorks();

    [Fact]
    public Task Dht_IsOffByDefault_WithAria2() => Dht_IsOffByDefault_AndTheFlagTurnsItOn(false);

    [Fact]
    public Task WhenAria2Dies_TheGatewayStartsItAgain_AndSeedsItsSharesAgain() => WhenTheEngineDies_TheGatewayStartsItAgain_AndSeedsItsSharesAgain();

    [Fact]
    public async Task A_v2_share_is_kept_but_not_seeded_when_the_gateway_runs_aria2_and_seeded_again_with_qbittorrent()
    {
        var folder = TestPaths.NewTempDir("im-torrent-switch");
        try
        {
            var store = ModelStoreFactory.Open(folder);
            Assert.True((await store.ImportFileAsync(TestPaths.Stories260K, new ModelRegistration { Name = TestEnvironment.Stories }, CancellationToken.None)).Succeeded);
            string infohash;
            await using (var qbittorrent = await TestEnvironment.StartAsync(e => { e.ModelsDirectory = folder; e.ExtraArgs.AddRange(["--torrent-engine", "qbittorrent"]); }))
            {
                using var share = await qbittorrent.Http.PostAsJsonAsync("/v1/models/share", new { name = TestEnvironment.Stories });
                infohash = (await share.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("infohash").GetString()!;
            }

            var saved = Path.Combine(folder, "torrents", "shared", infohash + ".torrent");
            await using (var aria2 = await TestEnvironment.StartAsync(e => { e.ModelsDirectory = folder; e.ExtraArgs.AddRange(["--torrent-engine", "aria2"]); }))
            {
                Assert.Equal(0, await aria2.App.Services.GetRequiredService<ModelTorrents>().ResumeSharesAsync(CancellationToken.None));
                Assert.True(File.Exists(saved));
            }

            // Back on qBittorrent, the gateway's start seeds it again (in the background).
            await using var again = await TestEnvironment.StartAsync(e => { e.ModelsDirectory = folder; e.ExtraArgs.AddRange(["--torrent-engine", "qbittorrent"]); });
            var torrents = again.App.Services.GetRequiredService<ModelTorrents>();
            var start = again.App.Services.GetServices<IHostedService>().OfType<TorrentHostedService>().Single();
            await start.StartedUp.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotNull(torrents.FindSharedTorrent(infohash));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_v2_torrent_is_refused_with_a_400_that_names_the_engine_to_use()
    {
        var b = await StartGatewayAsync(withStories: false);
        var content = File.ReadAllBytes(TestPaths.Stories260K);
        var (layer, root, digest, length) = await TorrentMetainfo.HashV2Async(new MemoryStream(content), TorrentMetainfo.V2PieceLength, CancellationToken.None);
        var v2 = TorrentMetainfo.CreateV2(TestEnvironment.Stories, length, TorrentMetainfo.V2PieceLength, layer, root, digest, "http://127.0.0.1:1/announce");

        foreach (var source in new[] { Convert.ToBase64String(v2.Bytes), v2.ToMagnet().ToString() })
        {
            using var response = await b.Http.PostAsJsonAsync("/v1/models/pull", new { source });

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var message = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("message").GetString();
            Assert.Contains("BitTorrent v2 torrent, and the gateway's engine aria2 reads v1 only (start it with --torrent-engine qbittorrent)", message);
        }
    }
}
