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

/// <summary>What aria2 reports about one download (aria2.tellStatus).</summary>
public sealed record Aria2Status(string State, long TotalLength, long CompletedLength, long DownloadSpeed, int Connections, string? ErrorMessage)
{
    public bool IsComplete => State == "complete";

    public bool IsFailed => State is "error" or "removed";

    /// <summary>
    /// Whether every piece of a download of <paramref name="length"/> bytes is verified and written. aria2 counts a
    /// piece in completedLength only after its hash matched and its cached blocks were flushed to the file; the state
    /// turns "complete" about a second later (after the completion announce and its next one-second refresh).
    /// </summary>
    public bool HasAllBytes(long length) => length > 0 && TotalLength == length && CompletedLength == length && !IsFailed;
}

/// <summary>The engine could not be started or reached; the message is one line for a user.</summary>
public sealed class TorrentEngineException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// aria2 as the BitTorrent engine: started on first use as a child process, supervised (restarted with a bounded
/// backoff when it dies; <see cref="Restarted"/> lets the owner add its torrents again), and killed with the
/// gateway — also on SIGKILL: the child gets PR_SET_PDEATHSIG=SIGKILL through util-linux <c>setpriv</c> (forked from
/// a thread that lives as long as this object, since the signal follows the forking thread) and
/// <c>--stop-with-process</c> as a second guard. Its JSON-RPC listens on 127.0.0.1 only, on a free port, with a
/// random secret per start that is passed in a 0600 config file (never on the command line, never logged) and deleted
/// once aria2 has read it. Thread-safe.
/// </summary>
public sealed partial class Aria2Engine : IAsyncDisposable
{
    private readonly TorrentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private readonly BlockingCollection<(ProcessStartInfo Start, TaskCompletionSource<Process> Result)> _launches = new();
    private Thread? _launcher;
    private Process? _process;
    private Uri? _rpc;
    private string? _secret;
    private Task? _supervision;
    private int _disposed;

    public Aria2Engine(TorrentOptions options, TimeProvider time, ILogger<Aria2Engine> logger)
    {
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Counts starts of aria2 (0 until first use); a pull compares it to notice a restart.</summary>
    public int Generation { get; private set; }

    /// <summary>The running aria2's process id, or null.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>
    /// The TCP port the running aria2 listens on for peers (0 before the first start): <see cref="TorrentOptions.ListenPort"/>,
    /// else a free port chosen again at each start of aria2.
    /// </summary>
    public int PeerPort { get; private set; }

    /// <summary>Raised after aria2 was started again following a crash (not after the first start).</summary>
    public event Func<Task>? Restarted;

    /// <summary>Starts aria2 unless it runs; throws <see cref="TorrentEngineException"/> with a one-line reason.</summary>
    public async Task EnsureStartedAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        if (_process is { HasExited: false } && _rpc is not null)
        {
            return;
        }

        await _startGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_process is { HasExited: false } && _rpc is not null)
            {
                return;
            }

            await StartProcessAsync(cancellationToken).ConfigureAwait(false);
            _supervision ??= Task.Run(() => SuperviseAsync(_stopping.Token), CancellationToken.None);
        }
        finally
        {
            _startGate.Release();
        }
    }

    /// <summary>Adds a .torrent with per-download options (dir, seed-ratio…); returns aria2's gid.</summary>
    public async Task<string> AddTorrentAsync(byte[] torrent, IReadOnlyDictionary<string, string> options, CancellationToken cancellationToken)
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
    public async Task<string> AddMagnetAsync(string magnet, IReadOnlyDictionary<string, string> options, CancellationToken cancellationToken)
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

    /// <summary>The status of a download, or null when aria2 does not know the gid (e.g. after a restart).</summary>
    public async Task<Aria2Status?> TellStatusAsync(string gid, CancellationToken cancellationToken)
    {
        JsonElement result;
        try
        {
            result = await CallAsync("aria2.tellStatus", json => json.WriteStringValue(gid), cancellationToken).ConfigureAwait(false);
        }
        catch (Aria2RpcException)
        {
            return null;
        }

        return new Aria2Status(
            Text(result, "status") ?? "unknown",
            Number(result, "totalLength"),
            Number(result, "completedLength"),
            Number(result, "downloadSpeed"),
            (int)Number(result, "connections"),
            Text(result, "errorMessage") is { Length: > 0 } message ? message : null);
    }

    /// <summary>Stops a download or seed and forgets it; unknown gids are ignored.</summary>
    public async Task RemoveAsync(string gid, CancellationToken cancellationToken)
    {
        if (_rpc is null || _process is not { HasExited: false })
        {
            return;
        }

        try
        {
            await CallAsync("aria2.forceRemove", json => json.WriteStringValue(gid), cancellationToken).ConfigureAwait(false);
        }
        catch (Aria2RpcException)
        {
        }

        // forceRemove is asynchronous: wait until aria2 closed the files, then drop the result.
        for (var i = 0; i < 100; i++)
        {
            var status = await TellStatusAsync(gid, cancellationToken).ConfigureAwait(false);
            if (status is null || status.State is "removed" or "complete" or "error")
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), _time, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await CallAsync("aria2.removeDownloadResult", json => json.WriteStringValue(gid), cancellationToken).ConfigureAwait(false);
        }
        catch (Aria2RpcException)
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
                throw new Aria2RpcException(Text(error, "message") ?? "unknown aria2 error");
            }

            return document.RootElement.GetProperty("result").Clone();
        }
    }

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var executable = ResolveExecutable(_options.Aria2Executable)
            ?? throw new TorrentEngineException($"the BitTorrent engine '{_options.Aria2Executable}' was not found (install the Debian package 'aria2')");
        var rpcPort = FreePort(IPAddress.Loopback);
        // Picked again at every start, like the RPC port: another process may take the old one while aria2 is down, and
        // aria2 then starts without listening for peers and without an error, announcing a port nobody seeds on.
        var peerPort = _options.ListenPort != 0 ? _options.ListenPort : FreePort(IPAddress.Any);
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var folder = Directory.CreateTempSubdirectory("inference-mesh-aria2-");
        var config = Path.Combine(folder.FullName, "aria2.conf");
        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var stream = new FileStream(config, fileOptions))
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"rpc-secret={secret}\n"), cancellationToken).ConfigureAwait(false);
        }

        var dht = _options.EnableDht ? "true" : "false";
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

        ProcessStartInfo start;
        if (OperatingSystem.IsLinux() && ResolveExecutable("setpriv") is { } setpriv)
        {
            start = new ProcessStartInfo(setpriv);
            start.ArgumentList.Add("--pdeathsig");
            start.ArgumentList.Add("KILL");
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(executable);
        }
        else
        {
            start = new ProcessStartInfo(executable);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;

        Process process;
        try
        {
            process = await LaunchOnOwnThreadAsync(start).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            folder.Delete(recursive: true);
            throw new TorrentEngineException($"the BitTorrent engine '{_options.Aria2Executable}' could not be started: {e.Message}", e);
        }

        process.OutputDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Log.EngineOutput(_logger, line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Log.EngineOutput(_logger, line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process?.Dispose();
        _process = process;
        _rpc = new Uri($"http://127.0.0.1:{rpcPort.ToString(CultureInfo.InvariantCulture)}/jsonrpc");
        _secret = secret;
        PeerPort = peerPort;
        try
        {
            await WaitForRpcAsync(process, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            KillQuietly(process);
            _rpc = null;
            throw;
        }
        finally
        {
            // aria2 read its config at start: the secret now lives only in its memory and ours.
            folder.Delete(recursive: true);
        }

        Generation++;
        Log.EngineStarted(_logger, process.Id, rpcPort, peerPort, _options.EnableDht);
    }

    private async Task WaitForRpcAsync(Process process, CancellationToken cancellationToken)
    {
        var deadline = _time.GetTimestamp();
        while (true)
        {
            if (process.HasExited)
            {
                throw new TorrentEngineException($"the BitTorrent engine '{_options.Aria2Executable}' exited at start with code {process.ExitCode}");
            }

            try
            {
                using var content = new StringContent(
                    $$"""{"jsonrpc":"2.0","id":"v","method":"aria2.getVersion","params":["token:{{_secret}}"]}""", Encoding.UTF8, "application/json");
                using var response = await _http.PostAsync(_rpc, content, cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (_time.GetElapsedTime(deadline) > _options.StartTimeout)
            {
                throw new TorrentEngineException($"the BitTorrent engine's RPC did not come up within {_options.StartTimeout.TotalSeconds} s");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Forks from one long-lived thread: PR_SET_PDEATHSIG fires when the forking thread ends, so a thread-pool thread
    /// (which may retire) would kill aria2 at random.
    /// </summary>
    private Task<Process> LaunchOnOwnThreadAsync(ProcessStartInfo start)
    {
        if (_launcher is null)
        {
            _launcher = new Thread(() =>
            {
                foreach (var (info, result) in _launches.GetConsumingEnumerable())
                {
                    try
                    {
                        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
                        process.Start();
                        result.SetResult(process);
                    }
                    catch (Exception e)
                    {
                        result.SetException(e);
                    }
                }
            })
            {
                IsBackground = true,
                Name = "aria2 launcher",
            };
            _launcher.Start();
        }

        var completion = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        _launches.Add((start, completion));
        return completion.Task;
    }

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        var backoff = TorrentDefaults.RestartBackoffMin;
        while (!stopping.IsCancellationRequested)
        {
            var process = _process;
            if (process is null)
            {
                return;
            }

            var startedAt = _time.GetTimestamp();
            try
            {
                await process.WaitForExitAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Log.EngineExited(_logger, process.ExitCode);
            if (_time.GetElapsedTime(startedAt) > TimeSpan.FromMinutes(1))
            {
                backoff = TorrentDefaults.RestartBackoffMin;
            }

            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(backoff, _time, stopping).ConfigureAwait(false);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TorrentDefaults.RestartBackoffMax.Ticks));
                    await _startGate.WaitAsync(stopping).ConfigureAwait(false);
                    try
                    {
                        if (_process is not { HasExited: false })
                        {
                            await StartProcessAsync(stopping).ConfigureAwait(false);
                        }
                    }
                    finally
                    {
                        _startGate.Release();
                    }

                    break;
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (TorrentEngineException e)
                {
                    Log.RestartFailed(_logger, e.Message);
                }
            }

            // Each handler awaited in turn: invoking a multicast Func<Task> would await only the last one's task.
            foreach (var handler in Restarted?.GetInvocationList().Cast<Func<Task>>() ?? [])
            {
                if (stopping.IsCancellationRequested)
                {
                    break;
                }

                try
                {
                    await handler().ConfigureAwait(false);
                }
                catch (Exception e) when (e is TorrentEngineException or IOException or Aria2RpcException)
                {
                    Log.RestartFailed(_logger, e.Message);
                }
            }
        }
    }

    private static void KillQuietly(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    /// <summary>A path for <paramref name="name"/>: itself when it has a separator and exists, else the first match on PATH.</summary>
    internal static string? ResolveExecutable(string name)
    {
        if (name.Contains('/') || name.Contains('\\'))
        {
            return File.Exists(name) ? Path.GetFullPath(name) : null;
        }

        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>A free TCP port on <paramref name="address"/> (<see cref="IPAddress.Any"/> for the peer port: aria2 listens on every interface).</summary>
    private static int FreePort(IPAddress address)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _startGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_process is { } process)
            {
                KillQuietly(process);
                process.Dispose();
                _process = null;
            }
        }
        finally
        {
            _startGate.Release();
        }

        if (_supervision is not null)
        {
            await _supervision.ConfigureAwait(false);
        }

        _launches.CompleteAdding();
        _http.Dispose();
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "aria2 started (pid {Pid}, rpc 127.0.0.1:{RpcPort}, peers on port {PeerPort}, dht {Dht})")]
        public static partial void EngineStarted(ILogger logger, int pid, int rpcPort, int peerPort, bool dht);

        [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "aria2 exited with code {ExitCode}; restarting it")]
        public static partial void EngineExited(ILogger logger, int exitCode);

        [LoggerMessage(EventId = 602, Level = LogLevel.Error, Message = "aria2 could not be restarted: {Reason}")]
        public static partial void RestartFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 603, Level = LogLevel.Debug, Message = "aria2: {Line}")]
        public static partial void EngineOutput(ILogger logger, string line);
    }
}

/// <summary>An error answer of aria2's RPC (unknown gid, refused option…).</summary>
public sealed class Aria2RpcException(string message) : Exception(message);
