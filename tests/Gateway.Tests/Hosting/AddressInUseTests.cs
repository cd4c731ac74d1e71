using System.Net;
using System.Net.Sockets;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Hosting;

/// <summary>
/// A port that is taken (a second gateway, or anything else on 8080) is one line from the process, exit 2. Kestrel's
/// own failure was the host's "Hosting failed to start" log and an unhandled exception: two stack traces and SIGABRT.
/// The same for the mesh's addresses (<c>mesh:</c> in --config): its mTLS listener and serf's gossip address.
/// </summary>
public sealed class AddressInUseTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task A_taken_port_is_one_line_and_exit_2(string host)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var models = TestPaths.NewTempDir("im-port-models");

        var (exitCode, lines) = await GatewayProcess.RunToExitAsync(
            ["--models", models, "--data", TestPaths.NewTempDir("im-port-data"), "--host", host, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        Assert.Equal(2, exitCode);
        Assert.Equal($"inference-mesh: {host}:{port} is already in use (another gateway, or another server on that port); stop it or choose another --port.", Assert.Single(lines));
    }

    [Fact]
    public async Task A_second_gateway_on_the_same_port_is_refused_and_the_first_keeps_serving()
    {
        var folder = TestPaths.NewTempDir("im-port-first");
        using var first = await GatewayProcess.StartAsync(["--models", folder, "--data", Path.Combine(folder, "data")]);

        var (exitCode, lines) = await GatewayProcess.RunToExitAsync(
            ["--models", folder, "--data", TestPaths.NewTempDir("im-port-second"), "--port", first.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        Assert.Equal(2, exitCode);
        Assert.Contains("is already in use", Assert.Single(lines), StringComparison.Ordinal);
        using var http = first.Client();
        using var models = await http.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
    }

    [Theory]
    [InlineData("listen")]
    [InlineData("gossip")]
    public async Task A_taken_mesh_port_is_one_line_naming_its_config_key_and_exit_2(string key)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var endpoint = (IPEndPoint)taken.LocalEndpoint;
        var config = key == "listen" ? MeshConfig($"listen: {endpoint}") : MeshConfig("listen: 127.0.0.1:0", $"gossip: {endpoint}");

        var (exitCode, lines) = await RunMeshGatewayAsync(config);

        Assert.Equal(2, exitCode);
        Assert.Equal(
            $"inference-mesh: mesh.{key} {endpoint} is already in use (another gateway's mesh, or another server on that port); stop it or change mesh.{key} in {config}.",
            Assert.Single(lines));
    }

    [Fact]
    public async Task A_taken_default_gossip_port_listen_port_plus_1_is_one_line_naming_mesh_gossip_and_exit_2()
    {
        // Serf's default gossip port is mesh.listen's port + 1: hold that one, with the listen port itself free.
        var (taken, listen) = PortBelowFree();
        using (taken)
        {
            var gossip = (IPEndPoint)taken.LocalEndpoint;
            var config = MeshConfig($"listen: {listen}");

            var (exitCode, lines) = await RunMeshGatewayAsync(config);

            Assert.Equal(2, exitCode);
            Assert.Equal(
                $"inference-mesh: the mesh's gossip address {gossip} (mesh.listen's port + 1) is already in use; stop what holds it, or set mesh.gossip in {config}.",
                Assert.Single(lines));
        }
    }

    private static string MeshConfig(params string[] meshLines)
    {
        var folder = TestPaths.NewTempDir("im-port-mesh");
        var config = Path.Combine(folder, "config.yaml");
        File.WriteAllText(config, "mesh:\n" + string.Concat(meshLines.Select(l => $"  {l}\n")) + $"  dataDir: {Path.Combine(folder, "mesh")}\n");
        return config;
    }

    private static Task<(int ExitCode, string[] Lines)> RunMeshGatewayAsync(string config) => GatewayProcess.RunToExitAsync(
        ["--models", TestPaths.NewTempDir("im-port-models"), "--data", TestPaths.NewTempDir("im-port-data"), "--port", "0", "--config", config]);

    /// <summary>A listener on a loopback port whose port - 1 is free (checked by binding it once).</summary>
    private static (TcpListener Taken, IPEndPoint FreeBelow) PortBelowFree()
    {
        for (var attempt = 0; ; attempt++)
        {
            var taken = new TcpListener(IPAddress.Loopback, 0);
            taken.Start();
            var below = new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)taken.LocalEndpoint).Port - 1);
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                probe.Bind(below);
                return (taken, below);
            }
            catch (SocketException) when (attempt < 20)
            {
                taken.Stop();
            }
        }
    }
}
