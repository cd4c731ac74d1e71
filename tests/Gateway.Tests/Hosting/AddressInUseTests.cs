using System.Net;
using System.Net.Sockets;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Hosting;

/// <summary>
/// A port that is taken (a second gateway, or anything else on 8080) is one line from the process, exit 2. Kestrel's
/// own failure was the host's "Hosting failed to start" log and an unhandled exception: two stack traces and SIGABRT.
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
}
