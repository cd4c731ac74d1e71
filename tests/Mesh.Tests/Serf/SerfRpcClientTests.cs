using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Serf;
using InferenceMesh.Mesh.Tests.Common;
using InferenceMesh.Tests;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Mesh.Tests.Serf;

/// <summary>The RPC client against a real serf agent (Debian package 'serf'), started by the real supervisor.</summary>
public sealed class SerfRpcClientTests
{
    /// <summary>serf prints this once its RPC listener is open (the supervisor logs the agent's output).</summary>
    private const string AgentRunning = "Serf agent running!";

    /// <summary>Connects once the supervisor's <paramref name="start"/>-th agent is running; any error fails the test.</summary>
    private static async Task<SerfRpcClient> ConnectWhenRunningAsync(SerfAgentSupervisor supervisor, RecordingLoggerProvider log, int start)
    {
        await log.WaitForAsync(AgentRunning, start, TimeSpan.FromSeconds(15));
        var (client, error, message) = await SerfRpcClient.ConnectAsync(supervisor.RpcEndpoint, supervisor.AuthKey, CancellationToken.None);
        Assert.True(client is not null, $"{error} {message}\n{string.Join('\n', log.Lines)}");
        return client;
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
        await using (var first = await ConnectWhenRunningAsync(supervisor, log, start: 1))
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

            // Crash the agent: the connection ends, and the supervisor starts a new one once it has seen the old one
            // exit. Connecting earlier could reach the dying agent, which still took the connection and then lost it
            // during the handshake (seen with the machine under load); the second agent's start line rules that out.
            var pid = supervisor.ProcessId!.Value;
            Process.GetProcessById(pid).Kill();
            await first.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        }

        await using var second = await ConnectWhenRunningAsync(supervisor, log, start: 2);
        Assert.Equal(2, supervisor.Starts);
        var (after, _) = await second.MembersAsync(CancellationToken.None);
        Assert.Equal("node-a", Assert.Single(after).Name);
    }

    [Fact]
    public async Task A_restarted_agent_takes_a_new_rpc_port_when_another_process_took_the_old_one()
    {
        var options = new MeshOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0), DataDirectory = TestPaths.NewTempDir("im-serf-rpc") };
        using var log = new RecordingLoggerProvider();
        using var loggers = new LoggerFactory([log]);
        await using var supervisor = new SerfAgentSupervisor(options, TimeProvider.System, loggers.CreateLogger<SerfAgentSupervisor>());
        var bind = new IPEndPoint(IPAddress.Loopback, SerfAgentSupervisor.FreeTcpPort(IPAddress.Loopback, udpToo: true));
        supervisor.Start(new SerfAgentSpec("node-a", bind, new Dictionary<string, string>()));

        IPEndPoint old;
        await using (var first = await ConnectWhenRunningAsync(supervisor, log, start: 1))
        {
            old = supervisor.RpcEndpoint;
            Process.GetProcessById(supervisor.ProcessId!.Value).Kill();
            await first.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        }

        // Another process takes the old RPC port while the agent is down (the supervisor waits 1 s before a restart).
        using var taken = TakeWhenFree(old, TimeSpan.FromSeconds(10));

        await using var second = await ConnectWhenRunningAsync(supervisor, log, start: 2);
        Assert.NotEqual(old, supervisor.RpcEndpoint);
        var (members, _) = await second.MembersAsync(CancellationToken.None);
        Assert.Equal("node-a", Assert.Single(members).Name);
    }

    [Fact]
    public async Task Connecting_to_a_port_that_never_answers_gives_up_after_the_ready_timeout()
    {
        // A listener whose backlog completes the connection but which never answers the handshake.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();

        var (client, error, message) = await SerfRpcClient.ConnectAsync((IPEndPoint)silent.LocalEndpoint, "key", CancellationToken.None)
            .WaitAsync(MeshDefaults.RpcReadyTimeout * 2);

        Assert.Null(client);
        Assert.Equal(SerfRpcError.HandshakeFailed, error);
        Assert.Contains("did not answer", message, StringComparison.Ordinal);
    }

    /// <summary>Binds <paramref name="endpoint"/> as soon as the process that held it has let it go.</summary>
    private static TcpListener TakeWhenFree(IPEndPoint endpoint, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var listener = new TcpListener(endpoint);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            try
            {
                listener.Start();
                return listener;
            }
            catch (SocketException) when (deadline.Elapsed < timeout)
            {
                listener.Dispose();
                Thread.Yield();
            }
        }
    }
}
