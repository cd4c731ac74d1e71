using System.Diagnostics;
using System.Net.Http.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Torrents;

/// <summary>The gateway as a real separate process: a SIGKILL of it leaves no engine behind (PR_SET_PDEATHSIG).</summary>
public sealed class EngineLifetimeTests
{
    [Theory]
    [InlineData("qbittorrent", "qbittorrent-nox")]
    [InlineData("aria2", "aria2c")]
    public async Task TheEngineDiesWithTheGateway_EvenWhenTheGatewayIsKilled(string engine, string processName)
    {
        var folder = TestPaths.NewTempDir("im-torrent-kill");
        try
        {
            var store = ModelStoreFactory.Open(folder);
            Assert.True((await store.ImportFileAsync(TestPaths.Stories260K, new ModelRegistration { Name = "stories260K" }, CancellationToken.None)).Succeeded);
            using var gateway = await GatewayProcess.StartAsync(["--models", folder, "--data", Path.Combine(folder, "data"), "--threads", "1", "--torrent-engine", engine]);
            int aria2;
            try
            {
                using var http = gateway.Client();
                using var share = await http.PostAsJsonAsync("/v1/models/share", new { name = "stories260K" });
                Assert.True(share.IsSuccessStatusCode, await share.Content.ReadAsStringAsync());
                aria2 = Assert.Single(ChildrenNamed(gateway.Id, processName));
            }
            finally
            {
                await gateway.KillAsync();
            }

            // The engine is not our child: wait on its exit through the runtime, not a polling loop of our own.
            using var engineProcess = IsAlive(aria2) ? TryGetProcess(aria2) : null;
            if (engineProcess is not null)
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await engineProcess.WaitForExitAsync(deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    Assert.Fail($"{processName} (pid {aria2}) outlived its killed gateway");
                }
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

    private static Process? TryGetProcess(int pid)
    {
        try
        {
            return Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return null; // gone already
        }
    }

    private static bool IsAlive(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('Z');
}
