using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using InferenceMesh.Mesh.Configuration;

namespace InferenceMesh.Mesh.Serf;

/// <summary>What the supervisor needs to start one serf agent.</summary>
public sealed record SerfAgentSpec(string NodeName, IPEndPoint Bind, IReadOnlyDictionary<string, string> Tags);

/// <summary>
/// Starts <c>serf agent</c> as a child process and keeps it running: when it exits without being asked to,
/// it is started again after a bounded exponential backoff (1 s doubling to 30 s; reset after a minute up).
/// Secrets (RPC auth key, gossip key) go in a 0600 JSON config file, never on the command line. RPC listens
/// on 127.0.0.1 only. The snapshot file under the data folder lets a restarted agent rejoin by itself.
/// </summary>
public sealed partial class SerfAgentSupervisor : IAsyncDisposable
{
    private readonly MeshOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _gate = new();
    private Process? _process;
    private Task? _loop;
    private SerfAgentSpec? _spec;
    private int _disposed;
    private volatile IPEndPoint _rpcEndpoint;

    public SerfAgentSupervisor(MeshOptions options, TimeProvider time, ILogger<SerfAgentSupervisor> logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        AuthKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
        _rpcEndpoint = FreeRpcEndpoint();
    }

    /// <summary>
    /// The agent's RPC address: 127.0.0.1 at a free port chosen again for each start of the agent, since another process
    /// may take the old one while the agent is down (a restart on it failed forever before).
    /// </summary>
    public IPEndPoint RpcEndpoint => _rpcEndpoint;

    /// <summary>Random per gateway run; the RPC refuses clients without it.</summary>
    public string AuthKey { get; }

    /// <summary>How many times the agent was started (1 after the first start).</summary>
    public int Starts { get; private set; }

    /// <summary>The running agent's process id, or null.</summary>
    public int? ProcessId
    {
        get
        {
            lock (_gate)
            {
                return _process is { HasExited: false } p ? p.Id : null;
            }
        }
    }

    /// <summary>Starts the agent and its supervision loop; returns once the first process was launched (or failed to).</summary>
    public void Start(SerfAgentSpec spec)
    {
        _spec = spec;
        Directory.CreateDirectory(_options.SerfDirectory);
        _loop = Task.Run(() => SuperviseAsync(_stopping.Token));
    }

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        var backoff = MeshDefaults.RestartBackoffMin;
        while (!stopping.IsCancellationRequested)
        {
            var startedAt = _time.GetTimestamp();
            Process? process;
            try
            {
                process = Launch();
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or IOException)
            {
                Log.LaunchFailed(_logger, _options.SerfExecutable, ex.Message);
                process = null;
            }

            if (process is not null)
            {
                try
                {
                    await process.WaitForExitAsync(stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Log.AgentExited(_logger, process.ExitCode);
                if (_time.GetElapsedTime(startedAt) > TimeSpan.FromMinutes(1))
                {
                    backoff = MeshDefaults.RestartBackoffMin;
                }
            }

            Log.Restarting(_logger, backoff.TotalSeconds);
            try
            {
                await Task.Delay(backoff, _time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MeshDefaults.RestartBackoffMax.Ticks));
        }
    }

    private Process Launch()
    {
        var spec = _spec!;
        _rpcEndpoint = FreeRpcEndpoint();
        var configFile = Path.Combine(_options.SerfDirectory, "agent.json");
        WriteConfig(configFile, spec);
        var start = DieWithParent(Environment.ProcessId, _options.SerfExecutable, ["agent", "-config-file=" + configFile]);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Log.AgentOutput(_logger, line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Log.AgentOutput(_logger, line); };
        lock (_gate)
        {
            // Never start an agent once stopping began: it would outlive the gateway.
            if (_stopping.IsCancellationRequested)
            {
                process.Dispose();
                throw new OperationCanceledException(_stopping.Token);
            }

            process.Start();
            _process?.Dispose();
            _process = process;
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        Starts++;
        Log.AgentStarted(_logger, process.Id, spec.Bind.ToString(), RpcEndpoint.ToString());
        return process;
    }

    /// <summary>
    /// The agent must not outlive the gateway, even when the gateway is killed (SIGKILL: no shutdown code runs).
    /// PR_SET_PDEATHSIG would fire when the parent <em>thread</em> exits, and .NET starts processes from pool threads
    /// that come and go; so a tiny <c>/bin/sh</c> launcher starts a watcher in the background (its output to /dev/null,
    /// so it holds none of our pipes) and then <c>exec</c>s the agent, which keeps the launcher's pid: the watcher checks
    /// every second that the gateway (<paramref name="parentPid"/>) and the agent are alive, and kills the agent when
    /// the gateway is gone. On Windows the agent is started directly.
    /// </summary>
    internal static ProcessStartInfo DieWithParent(int parentPid, string executable, IReadOnlyList<string> arguments)
    {
        ProcessStartInfo start;
        if (OperatingSystem.IsWindows())
        {
            start = new ProcessStartInfo(executable);
        }
        else
        {
            start = new ProcessStartInfo("/bin/sh");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(
                // alive: a /proc entry that is not a zombie (an unreaped dead gateway still answers kill -0); kill -0 without /proc.
                "p=$1; shift; alive() { if [ -r /proc/$p/status ]; then ! grep -q '^State:[[:space:]]*Z' /proc/$p/status; " +
                "else [ ! -d /proc/self ] && kill -0 \"$p\" 2>/dev/null; fi; }; " +
                "( while alive && kill -0 $$ 2>/dev/null; do sleep 1; done; kill -KILL $$ 2>/dev/null ) >/dev/null 2>&1 </dev/null & exec \"$@\"");
            start.ArgumentList.Add("inference-mesh-launcher");
            start.ArgumentList.Add(parentPid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            start.ArgumentList.Add(executable);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        return start;
    }

    private void WriteConfig(string path, SerfAgentSpec spec)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("node_name", spec.NodeName);
        json.WriteString("bind", spec.Bind.ToString());
        json.WriteString("rpc_addr", RpcEndpoint.ToString());
        json.WriteString("rpc_auth", AuthKey);
        if (_options.GossipKey is { } key)
        {
            json.WriteString("encrypt_key", key);
        }

        json.WriteString("snapshot_path", Path.Combine(_options.SerfDirectory, "snapshot"));
        json.WriteBoolean("rejoin_after_leave", true);
        json.WriteBoolean("leave_on_terminate", false);
        json.WriteBoolean("skip_leave_on_interrupt", true);
        json.WriteString("reconnect_timeout", $"{(long)_options.ReapAfter.TotalSeconds}s");
        json.WriteString("log_level", "warn");
        json.WriteStartObject("tags");
        foreach (var (k, v) in spec.Tags)
        {
            json.WriteString(k, v);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>Stops restarting the agent (call before a graceful leave, which makes the agent exit).</summary>
    public void StopSupervising()
    {
        lock (_gate)
        {
            _stopping.Cancel();
        }
    }

    /// <summary>Updates the tags written to the agent's config (so a restarted agent starts with them).</summary>
    public void UpdateTags(IReadOnlyDictionary<string, string> tags)
    {
        if (_spec is { } spec)
        {
            _spec = spec with { Tags = tags };
        }
    }

    /// <summary>Stops supervising and kills the agent (after the caller's RPC leave, if any).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        Process? process;
        lock (_gate)
        {
            _stopping.Cancel();
            process = _process;
            _process = null;
        }

        if (process is not null)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
            }

            process.Dispose();
        }

        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    private static IPEndPoint FreeRpcEndpoint() => new(IPAddress.Loopback, FreeTcpPort(IPAddress.Loopback));

    /// <summary>A free TCP port on <paramref name="address"/> (also free for UDP when <paramref name="udpToo"/>; serf gossips on both).</summary>
    public static int FreeTcpPort(IPAddress address, bool udpToo = false)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            using var tcp = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(address, 0));
            var port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            if (!udpToo)
            {
                return port;
            }

            try
            {
                using var udp = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(address, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }

        throw new InvalidOperationException($"No free port on {address}.");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "serf agent started (pid {Pid}, gossip {Bind}, rpc {Rpc})")]
        public static partial void AgentStarted(ILogger logger, int pid, string bind, string rpc);

        [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "serf agent exited with code {ExitCode}")]
        public static partial void AgentExited(ILogger logger, int exitCode);

        [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "restarting serf agent in {Seconds} s")]
        public static partial void Restarting(ILogger logger, double seconds);

        [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "could not start '{Executable}': {Reason} (install the Debian package 'serf')")]
        public static partial void LaunchFailed(ILogger logger, string executable, string reason);

        [LoggerMessage(EventId = 104, Level = LogLevel.Debug, Message = "serf: {Line}")]
        public static partial void AgentOutput(ILogger logger, string line);
    }
}
