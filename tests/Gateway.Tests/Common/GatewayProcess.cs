using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace InferenceMesh.Gateway.Tests.Common;

/// <summary>The gateway executable (built beside the tests) as a real separate process on a free loopback port.</summary>
internal sealed class GatewayProcess : IDisposable
{
    private GatewayProcess(Process process, int port)
    {
        Process = process;
        Port = port;
    }

    public Process Process { get; }

    public int Port { get; }

    public int Id => Process.Id;

    /// <summary>Starts <c>inference-mesh --port P</c> plus <paramref name="args"/> in <paramref name="workingDirectory"/> (else ours) and waits until it answers.</summary>
    public static async Task<GatewayProcess> StartAsync(IEnumerable<string> args, string? workingDirectory = null)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inference-mesh.dll"));
        foreach (var arg in args.Concat(["--port", port.ToString(CultureInfo.InvariantCulture)]))
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var gateway = new GatewayProcess(process, port);
        try
        {
            using var http = gateway.Client();
            var watch = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    using var probe = await http.GetAsync("/v1/models");
                    if (probe.IsSuccessStatusCode)
                    {
                        return gateway;
                    }
                }
                catch (HttpRequestException)
                {
                }

                Assert.False(process.HasExited, "the gateway exited while starting");
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), "the gateway did not start");
                await Task.Delay(200);
            }
        }
        catch
        {
            gateway.Dispose();
            throw;
        }
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

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
