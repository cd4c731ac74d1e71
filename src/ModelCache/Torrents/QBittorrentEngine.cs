using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>
/// qBittorrent-nox 4.5 (libtorrent-rasterbar 2.0: BitTorrent v1 and v2) as the BitTorrent engine, supervised as
/// <see cref="TorrentEngineProcess"/> says and driven over its WebUI API. Its profile folder is emptied and its config
/// written before each start, so it never resumes torrents on its own (the gateway adds them again): legal notice
/// accepted, WebUI on 127.0.0.1 only with localhost authentication kept on and a random password per start (only its
/// PBKDF2 hash is written; the password lives in our memory), DHT, local peer discovery and peer exchange off unless
/// <see cref="TorrentOptions.EnableDht"/>, UPnP/NAT-PMP off, TCP only, no queueing, no share-ratio or seeding-time
/// limits. Thread-safe.
/// </summary>
public sealed partial class QBittorrentEngine : TorrentEngineProcess, ITorrentEngine
{
    private const string User = "inference-mesh";

    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private readonly SemaphoreSlim _loginGate = new(1, 1);
    private Uri? _api;
    private string? _password;
    private volatile string? _sid;
    private string? _temporaryProfile;

    public QBittorrentEngine(TorrentOptions options, TimeProvider time, ILogger<QBittorrentEngine> logger)
        : base(options, time, logger)
    {
    }

    public override string Name => TorrentEngines.QBittorrent;

    public bool SupportsV2 => true;

    protected override string Executable => Options.QBittorrentExecutable;

    protected override string Package => "qbittorrent-nox";

    protected override bool IsReady => _sid is not null;

    /// <summary>The profile folder of the running engine (for tests: the config is there, never the password).</summary>
    public string? ProfileFolder { get; private set; }

    /// <summary>The running engine's WebUI address (for tests).</summary>
    internal Uri? WebUiAddress => _api;

    /// <summary>The gateway's WebUI session cookie (for tests that end the session the way an expiry would).</summary>
    internal string? SessionId => _sid;

    public async Task<string> AddSeedAsync(TorrentMetainfo metainfo, string folder, CancellationToken cancellationToken)
    {
        await AddAsync(metainfo.Bytes, null, folder, new Dictionary<string, string> { ["skip_checking"] = "true" }, cancellationToken).ConfigureAwait(false);
        await WaitKnownAsync(metainfo.ShortInfoHash, cancellationToken).ConfigureAwait(false);
        return metainfo.ShortInfoHash;
    }

    /// <summary>In piece order (so the SHA-256 can follow the verified prefix), with the given peers added at once.</summary>
    public async Task<string> AddDownloadAsync(TorrentMetainfo metainfo, string folder, IReadOnlyList<IPEndPoint> peers, CancellationToken cancellationToken)
    {
        await AddAsync(metainfo.Bytes, null, folder, new Dictionary<string, string> { ["sequentialDownload"] = "true" }, cancellationToken).ConfigureAwait(false);
        var id = metainfo.ShortInfoHash;
        await WaitKnownAsync(id, cancellationToken).ConfigureAwait(false);
        if (peers.Count > 0)
        {
            await PostAsync("torrents/addPeers", new Dictionary<string, string>
            {
                ["hashes"] = id,
                ["peers"] = string.Join('|', peers.Select(p => p.ToString())),
            }, cancellationToken).ConfigureAwait(false);
        }

        return id;
    }

    public async Task<TorrentTransferStatus?> GetStatusAsync(string id, CancellationToken cancellationToken)
    {
        var torrent = await InfoAsync(id, cancellationToken).ConfigureAwait(false);
        if (torrent is not { } t)
        {
            return null;
        }

        var state = Text(t, "state");
        return new TorrentTransferStatus(
            state switch
            {
                "error" or "missingFiles" => TorrentTransferState.Failed,
                "uploading" or "stalledUP" or "queuedUP" or "forcedUP" or "pausedUP" => TorrentTransferState.Complete,
                _ => TorrentTransferState.Active,
            },
            Number(t, "size"),
            Number(t, "completed"),
            Number(t, "dlspeed"),
            (int)(Number(t, "num_seeds") + Number(t, "num_leechs")),
            state is "error" or "missingFiles" ? $"qBittorrent reports the torrent as '{state}'" : null);
    }

    /// <summary>The leading pieces libtorrent has verified (pieceStates 2), in bytes.</summary>
    public async Task<long> GetVerifiedPrefixAsync(string id, TorrentMetainfo metainfo, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, "torrents/pieceStates?hash=" + id), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return 0;
        }

        using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        long pieces = 0;
        foreach (var piece in document.RootElement.EnumerateArray())
        {
            if (piece.ValueKind != JsonValueKind.Number || piece.GetInt32() != 2)
            {
                break;
            }

            pieces++;
        }

        return Math.Min(pieces * metainfo.PieceLength, metainfo.Length);
    }

    /// <summary>Adds the magnet stopped at "metadata received", waits for it, and exports the .torrent qBittorrent made of it.</summary>
    public async Task<(byte[]? Torrent, string? Error)> FetchMetadataAsync(MagnetLink magnet, string folder, Action<int> peers, CancellationToken cancellationToken)
    {
        var id = magnet.InfoHash[..40];
        var fields = new Dictionary<string, string> { ["stopCondition"] = "MetadataReceived" };
        await AddAsync(null, magnet.ToString(), folder, fields, cancellationToken).ConfigureAwait(false);
        var generation = Generation;
        var started = Time.GetTimestamp();
        try
        {
            while (true)
            {
                await Task.Delay(TorrentDefaults.PollInterval, Time, cancellationToken).ConfigureAwait(false);
                if (Generation != generation)
                {
                    await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
                    await AddAsync(null, magnet.ToString(), folder, fields, cancellationToken).ConfigureAwait(false);
                    generation = Generation;
                    continue;
                }

                if (await InfoAsync(id, cancellationToken).ConfigureAwait(false) is { } t)
                {
                    peers((int)(Number(t, "num_seeds") + Number(t, "num_leechs")));
                    if (Text(t, "state") is not ("metaDL" or "checkingResumeData" or "forcedMetaDL") && Number(t, "size") > 0)
                    {
                        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, "torrents/export?hash=" + id), cancellationToken).ConfigureAwait(false);
                        if (!response.IsSuccessStatusCode || response.Content.Headers.ContentLength is not (> 0 and <= TorrentMetainfo.MaxTorrentBytes))
                        {
                            return (null, "qBittorrent did not export the torrent's metadata");
                        }

                        return (await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false), null);
                    }
                }

                if (Time.GetElapsedTime(started) > Options.MetadataTimeout)
                {
                    return (null, "no peer sent the torrent's metadata (timed out)");
                }
            }
        }
        finally
        {
            await DeleteAsync(id, deleteFiles: true, CancellationToken.None).ConfigureAwait(false);
        }
    }

    public Task RemoveAsync(string id, CancellationToken cancellationToken) => DeleteAsync(id, deleteFiles: false, cancellationToken);

    private async Task DeleteAsync(string id, bool deleteFiles, CancellationToken cancellationToken)
    {
        if (_sid is null || Process is not { HasExited: false })
        {
            return;
        }

        try
        {
            await PostAsync("torrents/delete", new Dictionary<string, string> { ["hashes"] = id, ["deleteFiles"] = deleteFiles ? "true" : "false" }, cancellationToken).ConfigureAwait(false);
            // The delete is asynchronous: wait until the torrent is gone (libtorrent has closed its files).
            for (var i = 0; i < 100 && await InfoAsync(id, cancellationToken).ConfigureAwait(false) is not null; i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), Time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is TorrentEngineException or TorrentEngineRefusedException)
        {
        }
    }

    /// <summary>qBittorrent adds a torrent asynchronously: it is listed (and takes peers) a moment after "Ok.".</summary>
    private async Task WaitKnownAsync(string id, CancellationToken cancellationToken)
    {
        var started = Time.GetTimestamp();
        while (await InfoAsync(id, cancellationToken).ConfigureAwait(false) is null)
        {
            if (Time.GetElapsedTime(started) > Options.StartTimeout)
            {
                throw new TorrentEngineRefusedException("qBittorrent accepted the torrent but does not list it");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), Time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<JsonElement?> InfoAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, "torrents/info?hashes=" + id), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new TorrentEngineRefusedException($"qBittorrent refused torrents/info ({(int)response.StatusCode})");
        }

        using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        return document.RootElement.ValueKind == JsonValueKind.Array && document.RootElement.GetArrayLength() > 0
            ? document.RootElement[0].Clone()
            : null;
    }

    private async Task AddAsync(byte[]? torrent, string? magnet, string folder, Dictionary<string, string> fields, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() =>
        {
            var form = new MultipartFormDataContent();
            if (torrent is not null)
            {
                form.Add(new ByteArrayContent(torrent), "torrents", "model.torrent");
            }
            else
            {
                form.Add(new StringContent(magnet!), "urls");
            }

            form.Add(new StringContent(folder), "savepath");
            form.Add(new StringContent("false"), "autoTMM");
            form.Add(new StringContent("Original"), "contentLayout");
            form.Add(new StringContent("false"), "paused");
            foreach (var (key, value) in fields)
            {
                form.Add(new StringContent(value), key);
            }

            return new HttpRequestMessage(HttpMethod.Post, "torrents/add") { Content = form };
        }, cancellationToken).ConfigureAwait(false);
        var answer = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode || answer.Trim() != "Ok.")
        {
            throw new TorrentEngineRefusedException($"qBittorrent did not add the torrent ({(int)response.StatusCode} {answer.Trim()})");
        }
    }

    private async Task PostAsync(string path, Dictionary<string, string> form, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(form) }, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new TorrentEngineRefusedException($"qBittorrent refused {path} ({(int)response.StatusCode})");
        }
    }

    /// <summary>Starts the engine if needed, then sends with the session cookie (<see cref="SendInSessionAsync"/>).</summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> build, CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        return await SendInSessionAsync(build, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends with the session cookie. qBittorrent answers 403 once the session is gone (it expired after
    /// <c>WebUI\SessionTimeout</c>, or something logged it out): then the gateway logs in again, once, and repeats the
    /// request; a refused login or a second 403 is a <see cref="TorrentEngineException"/> that says so.
    /// </summary>
    private async Task<HttpResponseMessage> SendInSessionAsync(Func<HttpRequestMessage> build, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var (api, sid) = (_api!, _sid);
            using var request = build();
            var path = request.RequestUri!.OriginalString;
            request.RequestUri = new Uri(api, "api/v2/" + path);
            request.Headers.Add("Cookie", "SID=" + sid);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw new TorrentEngineException($"qBittorrent's WebUI API did not answer ({e.Message})", e);
            }

            if (response.StatusCode != HttpStatusCode.Forbidden)
            {
                return response;
            }

            response.Dispose();
            if (attempt > 0)
            {
                throw new TorrentEngineException($"qBittorrent's WebUI API refused {path.Split('?')[0]} (403) right after the gateway logged in again");
            }

            await RenewSessionAsync(sid, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Logs in again after a 403 with the session <paramref name="expired"/>; calls that hit the same 403 at once share
    /// one login (a call that finds a newer session than its own just repeats its request).
    /// </summary>
    private async Task RenewSessionAsync(string? expired, CancellationToken cancellationToken)
    {
        await _loginGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!string.Equals(_sid, expired, StringComparison.Ordinal))
            {
                return;
            }

            string? refusal;
            try
            {
                refusal = await LoginAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw new TorrentEngineException($"qBittorrent's WebUI API did not answer the gateway's login ({e.Message})", e);
            }

            if (refusal is not null)
            {
                Log.LoginRefused(Logger, refusal);
                throw new TorrentEngineException(
                    $"qBittorrent's WebUI refused the gateway's login after its session ended ({refusal}): its password was changed by"
                    + " another program, or it banned 127.0.0.1 after failed logins; restart the gateway to start the engine with a new password");
            }

            Log.LoggedInAgain(Logger);
        }
        finally
        {
            _loginGate.Release();
        }
    }

    /// <summary>POST auth/login with the per-start password; keeps the SID cookie. Null when logged in, else what qBittorrent answered.</summary>
    private async Task<string?> LoginAsync(CancellationToken cancellationToken)
    {
        using var content = new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = User, ["password"] = _password! });
        using var response = await _http.PostAsync(new Uri(_api!, "api/v2/auth/login"), content, cancellationToken).ConfigureAwait(false);
        var answer = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var cookie = response.Headers.TryGetValues("Set-Cookie", out var cookies)
            ? cookies.Select(c => c.Split(';')[0]).FirstOrDefault(c => c.StartsWith("SID=", StringComparison.Ordinal))
            : null;
        if (!response.IsSuccessStatusCode || answer != "Ok." || cookie is null)
        {
            return $"it answered {(int)response.StatusCode} '{OneLine(answer)}'";
        }

        _sid = cookie["SID=".Length..];
        return null;
    }

    /// <summary>At most 120 printable characters of an answer, for a one-line message.</summary>
    private static string OneLine(string text)
    {
        var line = new string([.. text.Trim().Take(120).Select(c => char.IsControl(c) ? ' ' : c)]);
        return text.Trim().Length > 120 ? line + "…" : line;
    }

    protected override async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var executable = RequireExecutable();
        var apiPort = FreePort(IPAddress.Loopback);
        var peerPort = ChoosePeerPort();
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var profile = Options.EngineFolder ?? (_temporaryProfile ??= Directory.CreateTempSubdirectory("inference-mesh-qbittorrent-").FullName);
        // Nothing of an earlier run survives: qBittorrent would resume its torrents on its own and the gateway adds them again.
        if (Directory.Exists(profile))
        {
            Directory.Delete(profile, recursive: true);
        }

        var configFolder = Path.Combine(profile, "qBittorrent", "config");
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(configFolder);
        }
        else
        {
            Directory.CreateDirectory(profile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.CreateDirectory(configFolder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        await WritePrivateFileAsync(Path.Combine(configFolder, "qBittorrent.conf"), Config(apiPort, peerPort, PasswordHash(password, RandomNumberGenerator.GetBytes(16)), Path.Combine(profile, "downloads")), cancellationToken)
            .ConfigureAwait(false);
        _sid = null;
        _api = new Uri($"http://127.0.0.1:{apiPort.ToString(CultureInfo.InvariantCulture)}/");
        _password = password;
        ProfileFolder = profile;
        var process = await LaunchAsync(executable, ["--profile=" + profile]).ConfigureAwait(false);
        PeerPort = peerPort;
        try
        {
            await WaitUntilReadyAsync(process, async () => await LoginAsync(cancellationToken).ConfigureAwait(false) is null, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            KillQuietly(process);
            _sid = null;
            throw;
        }

        LogStarted(apiPort);
    }

    /// <summary>
    /// qBittorrent's stored WebUI password (src/base/utils/password.cpp): base64 of the 16-byte salt, ':', base64 of
    /// PBKDF2-HMAC-SHA512 with 100000 iterations and a 64-byte key.
    /// </summary>
    internal static string PasswordHash(string password, byte[] salt) =>
        Convert.ToBase64String(salt) + ":"
        + Convert.ToBase64String(Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, 100_000, HashAlgorithmName.SHA512, 64));

    private string Config(int apiPort, int peerPort, string passwordHash, string downloads)
    {
        var dht = Options.EnableDht ? "true" : "false";
        var text = new StringBuilder();
        text.AppendLine("[LegalNotice]").AppendLine("Accepted=true");
        text.AppendLine("[Application]").AppendLine("FileLogger\\Enabled=false");
        text.AppendLine("[BitTorrent]");
        foreach (var (key, value) in new Dictionary<string, string>
        {
            ["Port"] = peerPort.ToString(CultureInfo.InvariantCulture),
            ["DHTEnabled"] = dht,
            ["LSDEnabled"] = dht,
            ["PeXEnabled"] = dht,
            ["BTProtocol"] = "TCP",
            ["QueueingSystemEnabled"] = "false",
            ["GlobalMaxRatio"] = "-1",
            ["GlobalMaxSeedingMinutes"] = "-1",
            ["DefaultSavePath"] = downloads,
            ["TempPathEnabled"] = "false",
            ["AddExtensionToIncompleteFiles"] = "false",
            ["Preallocation"] = "false",
            ["MultiConnectionsPerIp"] = "true",
            // The swarm is the gateways of one operator; MSE is obfuscation, not security, and costs a round trip.
            ["Encryption"] = "2",
            ["AnonymousModeEnabled"] = "false",
            ["AsyncIOThreadsCount"] = "8",
            ["HashingThreadsCount"] = "2",
            ["SendBufferWatermark"] = "3072",
            ["SendBufferLowWatermark"] = "1024",
            ["DiskQueueSize"] = "7340032",
            ["RequestQueueSize"] = "1500",
            ["ConnectionSpeed"] = "500",
            // How often qBittorrent asks libtorrent for every torrent's state (progress, pieces, state): what the WebUI
            // answers is at most this old. Its default of 1500 ms made a pull see its first bytes and its last piece
            // up to 1.5 s late; asking every 100 ms costs a few microseconds per torrent.
            ["RefreshInterval"] = "100",
        })
        {
            text.Append("Session\\").Append(key).Append('=').AppendLine(value);
        }

        text.AppendLine("[Preferences]");
        text.AppendLine("Connection\\UPnP=false");
        text.AppendLine("General\\Locale=en");
        text.AppendLine("WebUI\\Enabled=true");
        text.AppendLine("WebUI\\Address=127.0.0.1");
        text.Append("WebUI\\Port=").AppendLine(apiPort.ToString(CultureInfo.InvariantCulture));
        text.AppendLine("WebUI\\UseUPnP=false");
        text.AppendLine("WebUI\\LocalHostAuth=true");
        text.AppendLine("WebUI\\CSRFProtection=true");
        text.AppendLine("WebUI\\HostHeaderValidation=true");
        text.AppendLine("WebUI\\SessionTimeout=86400");
        text.Append("WebUI\\Username=").AppendLine(User);
        text.Append("WebUI\\Password_PBKDF2=\"@ByteArray(").Append(passwordHash).AppendLine(")\"");
        return text.ToString();
    }

    /// <summary>Asks qBittorrent to quit (it closes its files and tells trackers it stops) and waits briefly before the kill.</summary>
    protected override async Task StopGracefullyAsync(System.Diagnostics.Process process)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        using var response = await SendInSessionAsync(() => new HttpRequestMessage(HttpMethod.Post, "app/shutdown"), timeout.Token).ConfigureAwait(false);
        await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
    }

    protected override void DisposeCore()
    {
        _http.Dispose();
        _loginGate.Dispose();
        if (_temporaryProfile is not null && Directory.Exists(_temporaryProfile))
        {
            Directory.Delete(_temporaryProfile, recursive: true);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 604, Level = LogLevel.Information, Message = "qBittorrent's WebUI session had ended; the gateway logged in again")]
        public static partial void LoggedInAgain(ILogger logger);

        [LoggerMessage(EventId = 605, Level = LogLevel.Error, Message = "qBittorrent's WebUI refused the gateway's login after its session ended: {Answer}")]
        public static partial void LoginRefused(ILogger logger, string answer);
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : 0;
}
