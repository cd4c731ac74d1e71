using System.Diagnostics;
using System.Net.Http.Json;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Torrents;

/// <summary>The gateway as a real separate process: a SIGKILL of it leaves no aria2 behind (PR_SET_PDEATHSIG).</summary>
public sealed class EngineLifetimeTests
{
    [Fact]
    public async Task Aria2DiesWithTheGateway_EvenWhenTheGatewayIsKilled()
    {
        var folder = TestPaths.NewTempDir("im-torrent-kill");
        try
        {
            var store = ModelStoreFactory.Open(folder);
            Assert.True((await store.ImportFileAsync(TestPaths.Stories260K, new ModelRegistration { Name = "stories260K" }, CancellationToken.None)).Succeeded);
            var port = FreePort();
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "inference-mesh.dll"), "--models", folder, "--data", Path.Combine(folder, "data"), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--threads", "1" })
            {
                start.ArgumentList.Add(arg);
            }

            using var gateway = Process.Start(start)!;
            gateway.BeginOutputReadLine();
            gateway.BeginErrorReadLine();
            int aria2;
            try
            {
                using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
                var watch = Stopwatch.StartNew();
                while (true)
                {
                    try
                    {
                        using var probe = await http.GetAsync("/v1/models");
                        if (probe.IsSuccessStatusCode)
                        {
                            break;
                        }
                    }
                    catch (HttpRequestException)
                    {
                    }

                    Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), "the gateway did not start");
                    await Task.Delay(200);
                }

                using var share = await http.PostAsJsonAsync("/v1/models/share", new { name = "stories260K" });
                Assert.True(share.IsSuccessStatusCode, await share.Content.ReadAsStringAsync());
                aria2 = Assert.Single(ChildrenNamed(gateway.Id, "aria2c"));
            }
            finally
            {
                gateway.Kill(); // SIGKILL: no shutdown code runs in the gateway
                await gateway.WaitForExitAsync();
            }

            var deadline = Stopwatch.StartNew();
            while (IsAlive(aria2))
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), $"aria2 (pid {aria2}) outlived its killed gateway");
                await Task.Delay(50);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static IEnumerable<int> ChildrenNamed(int parent, string name)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (IOException)
            {
                continue;
            }

            // pid (comm) state ppid ...
            var close = stat.LastIndexOf(')');
            var comm = stat[(stat.IndexOf('(') + 1)..close];
            var fields = stat[(close + 2)..].Split(' ');
            if (comm == name && int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == parent)
            {
                yield return pid;
            }
        }
    }

    private static bool IsAlive(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('Z');

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
