using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>
/// What both engines share: the engine as a child process started on first use, supervised (restarted with a bounded
/// backoff when it dies; <see cref="Restarted"/> lets the owner add its torrents again), and killed with the gateway —
/// also on SIGKILL: the child gets PR_SET_PDEATHSIG=SIGKILL through util-linux <c>setpriv</c>, forked from a thread
/// that lives as long as this object, since the signal follows the forking thread. Its output goes to the logger.
/// </summary>
public abstract partial class TorrentEngineProcess : IAsyncDisposable
{
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly BlockingCollection<(ProcessStartInfo Start, TaskCompletionSource<Process> Result)> _launches = new();
    private Thread? _launcher;
    private Task? _supervision;
    private int _disposed;

    protected TorrentEngineProcess(TorrentOptions options, TimeProvider time, ILogger logger)
    {
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        Options = options;
        Time = time;
        Logger = logger;
    }

    protected TorrentOptions Options { get; }

    protected TimeProvider Time { get; }

    protected ILogger Logger { get; }

    /// <summary>The engine's process while one was started (it may have exited since).</summary>
    protected Process? Process { get; private set; }

    /// <summary>"qbittorrent" or "aria2".</summary>
    public abstract string Name { get; }

    /// <summary>The executable as configured (for messages).</summary>
    protected abstract string Executable { get; }

    /// <summary>The Debian package that provides the executable (for messages).</summary>
    protected abstract string Package { get; }

    /// <summary>Whether the started process answers its API (set by <see cref="StartProcessAsync"/>).</summary>
    protected abstract bool IsReady { get; }

    public int Generation { get; private set; }

    public int? ProcessId => Process is { HasExited: false } p ? p.Id : null;

    /// <summary><see cref="TorrentOptions.ListenPort"/>, else a free port chosen again at each start.</summary>
    public int PeerPort { get; protected set; }

    public event Func<Task>? Restarted;

    public async Task EnsureStartedAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        if (Process is { HasExited: false } && IsReady)
        {
            return;
        }

        await _startGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Process is { HasExited: false } && IsReady)
            {
                return;
            }

            await StartProcessAsync(cancellationToken).ConfigureAwait(false);
            Generation++;
            _supervision ??= Task.Run(() => SuperviseAsync(_stopping.Token), CancellationToken.None);
        }
        finally
        {
            _startGate.Release();
        }
    }

    /// <summary>Starts the process (through <see cref="LaunchAsync"/>) and returns once its API answers.</summary>
    protected abstract Task StartProcessAsync(CancellationToken cancellationToken);

    /// <summary>Asks the process to stop cleanly (before it is killed); the default does nothing.</summary>
    protected virtual Task StopGracefullyAsync(Process process) => Task.CompletedTask;

    /// <summary>Starts <paramref name="executable"/> with <paramref name="arguments"/> under setpriv's death signal; its output goes to the logger.</summary>
    protected async Task<Process> LaunchAsync(string executable, IEnumerable<string> arguments)
    {
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
            throw new TorrentEngineException($"the BitTorrent engine '{Executable}' could not be started: {e.Message}", e);
        }

        process.OutputDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Log.EngineOutput(Logger, Name, line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Log.EngineOutput(Logger, Name, line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Process?.Dispose();
        Process = process;
        return process;
    }

    /// <summary>The resolved executable, or a one-line <see cref="TorrentEngineException"/> naming the package to install.</summary>
    protected string RequireExecutable() =>
        ResolveExecutable(Executable)
        ?? throw new TorrentEngineException($"the BitTorrent engine '{Executable}' was not found (install the Debian package '{Package}')");

    /// <summary>Polls <paramref name="ready"/> every 50 ms until it is true, the process exits or <see cref="TorrentOptions.StartTimeout"/> passes.</summary>
    protected async Task WaitUntilReadyAsync(Process process, Func<Task<bool>> ready, CancellationToken cancellationToken)
    {
        var started = Time.GetTimestamp();
        while (true)
        {
            if (process.HasExited)
            {
                throw new TorrentEngineException($"the BitTorrent engine '{Executable}' exited at start with code {process.ExitCode}");
            }

            try
            {
                if (await ready().ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (Time.GetElapsedTime(started) > Options.StartTimeout)
            {
                throw new TorrentEngineException($"the BitTorrent engine's API did not come up within {Options.StartTimeout.TotalSeconds} s");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), Time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Creates a file only the gateway's user can read (0600), for a secret the engine reads at start.</summary>
    protected static async Task WritePrivateFileAsync(string path, string text, CancellationToken cancellationToken)
    {
        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using var stream = new FileStream(path, fileOptions);
        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), cancellationToken).ConfigureAwait(false);
    }

    protected void LogStarted(int apiPort) => Log.EngineStarted(Logger, Name, Process!.Id, apiPort, PeerPort, Options.EnableDht);

    /// <summary>
    /// Forks from one long-lived thread: PR_SET_PDEATHSIG fires when the forking thread ends, so a thread-pool thread
    /// (which may retire) would kill the engine at random.
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
                Name = Name + " launcher",
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
            var process = Process;
            if (process is null)
            {
                return;
            }

            var startedAt = Time.GetTimestamp();
            try
            {
                await process.WaitForExitAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Log.EngineExited(Logger, Name, process.ExitCode);
            if (Time.GetElapsedTime(startedAt) > TimeSpan.FromMinutes(1))
            {
                backoff = TorrentDefaults.RestartBackoffMin;
            }

            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(backoff, Time, stopping).ConfigureAwait(false);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TorrentDefaults.RestartBackoffMax.Ticks));
                    await _startGate.WaitAsync(stopping).ConfigureAwait(false);
                    try
                    {
                        if (Process is not { HasExited: false })
                        {
                            await StartProcessAsync(stopping).ConfigureAwait(false);
                            Generation++;
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
                    Log.RestartFailed(Logger, Name, e.Message);
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
                catch (Exception e) when (e is TorrentEngineException or IOException or TorrentEngineRefusedException)
                {
                    Log.RestartFailed(Logger, Name, e.Message);
                }
            }
        }
    }

    protected static void KillQuietly(Process process)
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

    /// <summary>A free TCP port on <paramref name="address"/> (<see cref="IPAddress.Any"/> for the peer port: engines listen on every interface).</summary>
    protected static int FreePort(IPAddress address)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>The peer port for a start: the configured one, else a free one (picked again at every start: another process may take the old one while the engine is down).</summary>
    protected int ChoosePeerPort() => Options.ListenPort != 0 ? Options.ListenPort : FreePort(IPAddress.Any);

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
            if (Process is { } process)
            {
                if (!process.HasExited && IsReady)
                {
                    try
                    {
                        await StopGracefullyAsync(process).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is HttpRequestException or TorrentEngineException or OperationCanceledException)
                    {
                    }
                }

                KillQuietly(process);
                process.Dispose();
                Process = null;
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
        DisposeCore();
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the engine's own resources after the process is gone.</summary>
    protected virtual void DisposeCore()
    {
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "{Engine} started (pid {Pid}, api 127.0.0.1:{ApiPort}, peers on port {PeerPort}, dht {Dht})")]
        public static partial void EngineStarted(ILogger logger, string engine, int pid, int apiPort, int peerPort, bool dht);

        [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "{Engine} exited with code {ExitCode}; restarting it")]
        public static partial void EngineExited(ILogger logger, string engine, int exitCode);

        [LoggerMessage(EventId = 602, Level = LogLevel.Error, Message = "{Engine} could not be restarted: {Reason}")]
        public static partial void RestartFailed(ILogger logger, string engine, string reason);

        [LoggerMessage(EventId = 603, Level = LogLevel.Debug, Message = "{Engine}: {Line}")]
        public static partial void EngineOutput(ILogger logger, string engine, string line);
    }
}
