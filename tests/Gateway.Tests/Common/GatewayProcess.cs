using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace InferenceMesh.Gateway.Tests.Common;

/// <summary>The gateway executable (built beside the tests) as a real separate process on a free loopback port.</summary>
internal sealed class GatewayProcess : IDisposable
{
    private static readonly Regex ListeningLine = new(@"Inference Mesh gateway listening on http://127\.0\.0\.1:(\d+)", RegexOptions.CultureInvariant);

    private GatewayProcess(Process process, int port)
    {
        Process = process;
        Port = port;
    }

    public Process Process { get; }

    public int Port { get; }

    public int Id => Process.Id;

    /// <summary>
    /// Starts <c>inference-mesh --port 0</c> plus <paramref name="args"/> in <paramref name="workingDirectory"/> (else ours),
    /// takes the port from its own "listening on" line and waits until it answers. The gateway binds the port itself: a
    /// port picked here and released first could be taken meanwhile by another test's loopback server, which would then
    /// answer in the gateway's place (and record the probe as a request).
    /// </summary>
    /// <param name="executable">An installed <c>inference-mesh</c> executable to run instead of the build beside the tests.</param>
    /// <param name="environment">Variables to set (a null value removes one) in the process's environment.</param>
    public static async Task<GatewayProcess> StartAsync(
        IEnumerable<string> args, string? workingDirectory = null, string? executable = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(executable ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        if (executable is null)
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inference-mesh.dll"));
        }

        foreach (var arg in args.Concat(["--port", "0"]))
        {
            start.ArgumentList.Add(arg);
        }

        var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && ListeningLine.Match(line) is { Success: true } match)
            {
                listening.TrySetResult(int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture));
            }
        };
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("the gateway exited while starting"));
        process.EnableRaisingEvents = true;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        int port;
        try
        {
            port = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            process.Dispose();
            throw;
        }

        var gateway = new GatewayProcess(process, port);
        try
        {
            using var http = gateway.Client();
            using var probe = await http.GetAsync("/v1/models");
            probe.EnsureSuccessStatusCode();
            return gateway;
        }
        catch
        {
            gateway.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <c>inference-mesh</c> with exactly <paramref name="args"/> (no port added) until it exits, for start-up
    /// failures: its exit code and the lines of stdout and stderr that are not the console logger's informational ones.
    /// </summary>
    public static async Task<(int ExitCode, string[] Lines)> RunToExitAsync(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inference-mesh.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }

        var lines = ((await output) + (await error)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !l.StartsWith("info:", StringComparison.Ordinal) && !l.StartsWith("      ", StringComparison.Ordinal))
            .ToArray();
        return (process.ExitCode, lines);
    }

    public HttpClient Client() => new() { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>SIGKILL: no shutdown code runs in the gateway.</summary>
    public async Task KillAsync()
    {
        Process.Kill();
        await Process.WaitForExitAsync();
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill();
            Process.WaitForExit();
        }

        Process.Dispose();
    }
}
