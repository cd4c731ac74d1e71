using InferenceMesh.Gateway.Cli;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Gateway.Tests.Cli;

/// <summary><c>models share</c> and a BitTorrent <c>models pull</c> pointed (--gateway) at a server that is not a gateway.</summary>
public sealed class ModelsTorrentCliTests : IAsyncLifetime
{
    private WebApplication _notAGateway = null!;
    private string _url = null!;

    public async Task InitializeAsync()
    {
        // A loopback stand-in for some other web server on the gateway's port: 200 and an HTML page to everything.
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _notAGateway = builder.Build();
        _notAGateway.Map("/{**path}", () => Results.Content("<html><body>hello</body></html>", "text/html"));
        await _notAGateway.StartAsync();
        _url = _notAGateway.Urls.First();
    }

    public async Task DisposeAsync() => await _notAGateway.DisposeAsync();

    [Theory]
    [InlineData("share", "some-model")]
    [InlineData("pull", "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567")]
    public async Task A_server_that_is_not_a_gateway_is_one_line_not_a_stack_trace(string command, string argument)
    {
        var error = new StringWriter();
        var exit = await ModelsCli.RunAsync(["models", command, argument, "--gateway", _url], new StringWriter(), error, new ModelsCliEnvironment(), CancellationToken.None);

        Assert.Equal(ModelsCliExit.Failed, exit);
        Assert.StartsWith("inference-mesh: ", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("did not answer as an inference-mesh gateway", error.ToString(), StringComparison.Ordinal);
        Assert.Single(error.ToString().Trim().Split('\n'));
    }
}
