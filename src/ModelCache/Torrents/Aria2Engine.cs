using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>
/// aria2 1.36 as the BitTorrent engine (BitTorrent v1 only), supervised as <see cref="TorrentEngineProcess"/> says,
/// with <c>--stop-with-process</c> as a second guard against outliving the gateway. Its JSON-RPC listens on 127.0.0.1 only, on a free port, with a
/// random secret per start that is passed in a 0600 config file (never on the command line, never logged) and deleted
/// once aria2 has read it. Thread-safe.
/// </summary>
public sealed class Aria2Engine : TorrentEngineProcess, ITorrentEngine
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private Uri? _rpc;
    private string? _secret;

    public Aria2Engine(TorrentOptions options, TimeProvider time, ILogger<Aria2Engine> logger)
        : base(options, time, logger)
    {
    }

    public override string Name => "aria2";

    public bool SupportsV2 => false;

    protected override string Executable => Options.Aria2Executable;

    protected override string Package => "aria2";

    protected override bool IsReady => _rpc is not null;

    /// <summary>Seeding never writes: the file is complete (checked by our own hash), so aria2 opens it read-only; seed-ratio 0 seeds until stopped.</summary>
    public Task<string> AddSeedAsync(TorrentMetainfo metainfo, string folder, CancellationToken cancellationToken) =>
        metainfo.Version != 1
            ? throw new TorrentEngineRefusedException("aria2 reads BitTorrent v1 torrents only")
            : AddTorrentAsync(metainfo.Bytes, new Dictionary<string, string>
            {
                ["dir"] = folder,
                ["seed-ratio"] = "0",
                ["bt-seed-unverified"] = "true",
                ["check-integrity"] = "false",
            }, cancellationToken);

    /// <summary>
    /// check-integrity costs nothing on a fresh download and resumes a partial one after a restart. aria2 takes no
    /// peer address through its RPC: the tracker gives it the seeder (at aria2's next one-second refresh).
    /// </summary>
    public Task<string> AddDownloadAsync(TorrentMetainfo metainfo, string folder, IReadOnlyList<IPEndPoint> peers, CancellationToken cancellationToken) =>
        metainfo.Version != 1
            ? throw new TorrentEngineRefusedException("aria2 reads BitTorrent v1 torrents only")
            : AddTorrentAsync(metainfo.Bytes, new Dictionary<string, string>
            {
                ["dir"] = folder,
                ["seed-time"] = "0",
                ["check-integrity"] = "true",
                ["bt-stop-timeout"] = Seconds(Options.StallTimeout),
            }, cancellationToken);

    /// <summary>aria2 hashes pieces as they come, in random order: no prefix to follow (docs/torrents.md, "Speed").</summary>
    public Task<long> GetVerifiedPrefixAsync(string id, TorrentMetainfo metainfo, CancellationToken cancellationToken) => Task.FromResult(0L);

    public async Task<(byte[]? Torrent, string? Error)> FetchMetadataAsync(MagnetLink magnet, string folder, Action<int> peers, CancellationToken cancellationToken)
    {
        if (magnet.InfoHash.Length != 40)
        {
            return (null, "aria2 reads BitTorrent v1 torrents only; this magnet is v2 (start the gateway with --torrent-engine qbittorrent)");
        }

        var options = new Dictionary<string, string>
        {
            ["dir"] = folder,
            ["bt-metadata-only"] = "true",
            ["bt-save-metadata"] = "true",
            ["bt-stop-timeout"] = Seconds(Options.MetadataTimeout),
        };
        var magnetText = magnet.ToString();
        var gid = await AddMagnetAsync(magnetText, options, cancellationToken).ConfigureAwait(false);
        var generation = Generation;
        var started = Time.GetTimestamp();
        while (true)
        {
            await Task.Delay(TorrentDefaults.PollInterval, Time, cancellationToken).ConfigureAwait(false);
            var status = await GetStatusAsync(gid, cancellationToken).ConfigureAwait(false);
            if (status is null || Generation != generation)
            {
                await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
                gid = await AddMagnetAsync(magnetText, options, cancellationToken).ConfigureAwait(false);
                generation = Generation;
                continue;
            }

            peers(status.Connections);
            if (status.IsComplete)
            {
                await RemoveAsync(gid, cancellationToken).ConfigureAwait(false);
                break;
            }

            if (status.IsFailed || Time.GetElapsedTime(started) > Options.MetadataTimeout)
            {
                await RemoveAsync(gid, cancellationToken).ConfigureAwait(false);
                return (null, $"no peer sent the torrent's metadata ({status.ErrorMessage ?? "timed out"})");
            }
        }

        var info = new FileInfo(Path.Combine(folder, magnet.InfoHash + ".torrent"));
        if (!info.Exists || info.Length > TorrentMetainfo.MaxTorrentBytes)
        {
            return (null, "aria2 did not save the torrent's metadata");
        }

        return (await File.ReadAllBytesAsync(info.FullName, cancellationToken).ConfigureAwait(false), null);
    }

    private static string Seconds(TimeSpan span) => ((long)Math.Ceiling(span.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    /// <summary>Adds a .torrent with per-download options (dir, seed-ratio…); returns aria2's gid.</summary>
    private async Task<string> AddTorrentAsync(byte[] torrent, IReadOnlyDictionary<string, string> options, CancellationToken cancellationToken)
    {
        var result = await CallAsync("aria2.addTorrent", json =>
        {
            json.WriteBase64StringValue(torrent);
            json.WriteStartArray();
            json.WriteEndArray();
            WriteOptions(json, options);
        }, cancellationToken).ConfigureAwait(false);
        return result.GetString() ?? throw new TorrentEngineException("aria2 returned no gid");
    }

    /// <summary>Adds a magnet link (used with bt-metadata-only to fetch and check metadata first).</summary>
    private async Task<string> AddMagnetAsync(string magnet, IReadOnlyDictionary<string, string> options, CancellationToken cancellationToken)
    {
        var result = await CallAsync("aria2.addUri", json =>
        {
            json.WriteStartArray();
            json.WriteStringValue(magnet);
            json.WriteEndArray();
            WriteOptions(json, options);
        }, cancellationToken).ConfigureAwait(false);
        return result.GetString() ?? throw new TorrentEngineException("aria2 returned no gid");
    }

    public async Task<TorrentTransferStatus?> GetStatusAsync(string gid, CancellationToken cancellationToken)
    {
        JsonElement result;
        try
        {
            result = await CallAsync("aria2.tellStatus", json => json.WriteStringValue(gid), cancellationToken).ConfigureAwait(false);
        }
        catch (TorrentEngineRefusedException)
        {
            return null;
        }

        return new TorrentTransferStatus(
            Text(result, "status") switch { "complete" => TorrentTransferState.Complete, "error" or "removed" => TorrentTransferState.Failed, _ => TorrentTransferState.Active },
            Number(result, "totalLength"),
            Number(result, "completedLength"),
            Number(result, "downloadSpeed"),
            (int)Number(result, "connections"),
            Text(result, "errorMessage") is { Length: > 0 } message ? message : null);
    }

    public async Task RemoveAsync(string gid, CancellationToken cancellationToken)
    {
        if (_rpc is null || Process is not { HasExited: false })
        {
            return;
        }

        try
        {
            await CallAsync("aria2.forceRemove", json => json.WriteStringValue(gid), cancellationToken).ConfigureAwait(false);
        }
        catch (TorrentEngineRefusedException)
        {
        }

        // forceRemove is asynchronous: wait until aria2 closed the files, then drop the result.
        for (var i = 0; i < 100; i++)
        {
            var status = await GetStatusAsync(gid, cancellationToken).ConfigureAwait(false);
            if (status is null || status.State != TorrentTransferState.Active)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), Time, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await CallAsync("aria2.removeDownloadResult", json => json.WriteStringValue(gid), cancellationToken).ConfigureAwait(false);
        }
        catch (TorrentEngineRefusedException)
        {
        }
    }

    private static void WriteOptions(Utf8JsonWriter json, IReadOnlyDictionary<string, string> options)
    {
        json.WriteStartObject();
        foreach (var (key, value) in options)
        {
            json.WriteString(key, value);
        }

        json.WriteEndObject();
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long Number(JsonElement e, string name) =>
        long.TryParse(Text(e, name), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;

    private async Task<JsonElement> CallAsync(string method, Action<Utf8JsonWriter> writeParams, CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        var (rpc, secret) = (_rpc!, _secret!);
        using var body = new MemoryStream();
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("jsonrpc", "2.0");
            json.WriteString("id", "im");
            json.WriteString("method", method);
            json.WriteStartArray("params");
            json.WriteStringValue("token:" + secret);
            writeParams(json);
            json.WriteEndArray();
            json.WriteEndObject();
        }

        using var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        HttpResponseMessage response;
        try
        {
            response = await _http.PostAsync(rpc, content, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new TorrentEngineException($"aria2's RPC did not answer ({e.Message})", e);
        }

        using (response)
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            using var document = JsonDocument.Parse(bytes);
            if (document.RootElement.TryGetProperty("error", out var error))
            {
                throw new TorrentEngineRefusedException(Text(error, "message") ?? "unknown aria2 error");
            }

            return document.RootElement.GetProperty("result").Clone();
        }
    }

    protected override async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var executable = RequireExecutable();
        var rpcPort = FreePort(IPAddress.Loopback);
        // aria2 starts without listening for peers, and without an error, when its port is taken.
        var peerPort = ChoosePeerPort();
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var folder = Directory.CreateTempSubdirectory("inference-mesh-aria2-");
        var config = Path.Combine(folder.FullName, "aria2.conf");
        try
        {
            await WritePrivateFileAsync(config, $"rpc-secret={secret}\n", cancellationToken).ConfigureAwait(false);
            var dht = Options.EnableDht ? "true" : "false";
            var arguments = new List<string>
            {
                "--conf-path=" + config,
                "--enable-rpc=true",
                "--rpc-listen-all=false",
                "--rpc-listen-port=" + rpcPort.ToString(CultureInfo.InvariantCulture),
                "--rpc-max-request-size=32M",
                "--rpc-save-upload-metadata=false",
                "--listen-port=" + peerPort.ToString(CultureInfo.InvariantCulture),
                "--dht-listen-port=" + peerPort.ToString(CultureInfo.InvariantCulture),
                "--enable-dht=" + dht,
                "--enable-dht6=" + dht,
                "--bt-enable-lpd=" + dht,
                "--enable-peer-exchange=" + dht,
                "--seed-ratio=0",
                "--follow-torrent=false",
                "--auto-file-renaming=false",
                "--allow-overwrite=false",
                "--file-allocation=none",
                "--max-concurrent-downloads=64",
                "--bt-save-metadata=false",
                "--bt-load-saved-metadata=false",
                "--bt-request-peer-speed-limit=100M",
                "--disk-cache=32M",
                "--max-upload-limit=0",
                "--console-log-level=error",
                "--summary-interval=0",
                "--show-console-readout=false",
                "--stop-with-process=" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            };

            var process = await LaunchAsync(executable, arguments).ConfigureAwait(false);
            _rpc = new Uri($"http://127.0.0.1:{rpcPort.ToString(CultureInfo.InvariantCulture)}/jsonrpc");
            _secret = secret;
            PeerPort = peerPort;
            try
            {
                await WaitUntilReadyAsync(process, PingAsync, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                KillQuietly(process);
                _rpc = null;
                throw;
            }
        }
        finally
        {
            // aria2 read its config at start: the secret now lives only in its memory and ours.
            folder.Delete(recursive: true);
        }

        LogStarted(rpcPort);
    }

    private async Task<bool> PingAsync()
    {
        using var content = new StringContent(
            $$"""{"jsonrpc":"2.0","id":"v","method":"aria2.getVersion","params":["token:{{_secret}}"]}""", Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(_rpc, content).ConfigureAwait(false);
        return response.IsSuccessStatusCode;
    }

    protected override void DisposeCore() => _http.Dispose();
}
