using System.Diagnostics;
using System.Net;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Serf;
using InferenceMesh.Mesh.Tests.Common;
using InferenceMesh.Tests;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Mesh.Tests.Serf;

/// <summary>The RPC client against a real serf agent (Debian package 'serf'), started by the real supervisor.</summary>
public sealed class SerfRpcClientTests
{
    private static async Task<SerfRpcClient> ConnectWhenReadyAsync(SerfAgentSupervisor supervisor, string? key, RecordingLoggerProvider log)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var (client, error, message) = await SerfRpcClient.ConnectAsync(supervisor.RpcEndpoint, key, CancellationToken.None);
            if (client is not null)
            {
                return client;
            }

            // Not ready: nothing listens yet (refused). A wrong key or any other error fails at once.
            Assert.True(error == SerfRpcError.ConnectFailed && deadline.Elapsed < TimeSpan.FromSeconds(15), $"{error} {message}\n{string.Join('\n', log.Lines)}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Handshake_auth_members_tags_and_restart_after_a_crash()
    {
        var options = new MeshOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0), DataDirectory = TestPaths.NewTempDir("im-serf"), GossipKey = Convert.ToBase64String(new byte[32]) };
        using var log = new RecordingLoggerProvider();
        using var loggers = new LoggerFactory([log]);
        await using var supervisor = new SerfAgentSupervisor(options, TimeProvider.System, loggers.CreateLogger<SerfAgentSupervisor>());
        var bind = new IPEndPoint(IPAddress.Loopback, SerfAgentSupervisor.FreeTcpPort(IPAddress.Loopback, udpToo: true));
        supervisor.Start(new SerfAgentSpec("node-a", bind, new Dictionary<string, string> { ["https"] = "127.0.0.1:1" }));

        // A wrong auth key is refused (the RPC is authenticated).
        await using (var first = await ConnectWhenReadyAsync(supervisor, supervisor.AuthKey, log))
        {
            var (wrong, error, _) = await SerfRpcClient.ConnectAsync(supervisor.RpcEndpoint, "not-the-key", CancellationToken.None);
            Assert.Null(wrong);
            Assert.Equal(SerfRpcError.AuthFailed, error);

            var (members, membersError) = await first.MembersAsync(CancellationToken.None);
            Assert.Null(membersError);
            var self = Assert.Single(members);
            Assert.Equal("node-a", self.Name);
            Assert.Equal("alive", self.Status);
            Assert.Equal(bind.Port, self.Port);
            Assert.Equal(IPAddress.Loopback, self.Address);
            Assert.Equal("127.0.0.1:1", self.Tags["https"]);

            Assert.Null(await first.SetTagsAsync(new Dictionary<string, string> { ["https"] = "127.0.0.1:2", ["models"] = "abc" }, CancellationToken.None));
            (members, _) = await first.MembersAsync(CancellationToken.None);
            Assert.Equal("abc", Assert.Single(members).Tags["models"]);

            var (joined, joinError) = await first.JoinAsync(["127.0.0.1:1"], CancellationToken.None);
            Assert.Equal(0, joined);
            Assert.NotNull(joinError);

            // Crash the agent: the connection ends, and the supervisor starts a new one.
            var pid = supervisor.ProcessId!.Value;
            Process.GetProcessById(pid).Kill();
            await first.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        }

        // The supervisor launches the new agent only after it has seen the old one exit. Connecting before that can
        // reach the dying agent, which still takes the connection and then loses it during the handshake (seen with the machine under load).
        var restart = Stopwatch.StartNew();
        while (supervisor.Starts < 2 && restart.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(20);
        }

        await using var second = await ConnectWhenReadyAsync(supervisor, supervisor.AuthKey, log);
        Assert.Equal(2, supervisor.Starts);
        var (after, _) = await second.MembersAsync(CancellationToken.None);
        Assert.Equal("node-a", Assert.Single(after).Name);
    }
}
