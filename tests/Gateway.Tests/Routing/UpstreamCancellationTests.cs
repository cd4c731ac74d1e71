using InferenceMesh.Gateway.Tests.Common;
using System.Net;
using InferenceMesh.Gateway.Tests.Backends.Anthropic;
using Microsoft.AspNetCore.Http;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// A client that leaves in the middle of a remote stream: the gateway must cancel its upstream request (the stand-ins
/// below, loopback servers of each protocol, see their request aborted), not keep it running and paying for tokens.
/// </summary>
public sealed class UpstreamCancellationTests
{
    /// <summary>A guard against a hang only: a passing run is over as soon as the upstream sees the abort.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_client_leaving_mid_stream_cancels_the_openai_upstream_request()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = async (http, _) =>
        {
            http.Response.ContentType = "text/event-stream";
            await http.Response.WriteAsync("""data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"first"},"finish_reason":null}]}""" + "\n\n");
            await http.Response.Body.FlushAsync();
            await WaitForAbortAsync(http, aborted);
        };

        await ReadFirstEventThenLeaveAsync(harness);

        await aborted.Task.WaitAsync(HangGuard);
        Assert.Null(harness.Engine.Model.LastRequest); // nobody to continue for
    }

    [Fact]
    public async Task A_client_leaving_mid_stream_cancels_the_anthropic_upstream_request()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var claude = await LoopbackAnthropicUpstream.StartAsync();
        await using var harness = new RoutingHarness();
        harness.OtherBackends.Add(("claude", "anthropic", claude.BaseAddress.ToString(), 0.99, "sk-ant"));
        await harness.StartAsync();
        claude.Respond = async http =>
        {
            http.Response.ContentType = "text/event-stream";
            foreach (var (name, data) in AnthropicScript.HelloWorld().Take(4))
            {
                await http.Response.WriteAsync($"event: {name}\ndata: {data}\n\n");
            }

            await http.Response.Body.FlushAsync();
            await WaitForAbortAsync(http, aborted);
        };

        await ReadFirstEventThenLeaveAsync(harness);

        await aborted.Task.WaitAsync(HangGuard);
        Assert.Null(harness.Engine.Model.LastRequest);
    }

    private static async Task ReadFirstEventThenLeaveAsync(RoutingHarness harness)
    {
        using (var response = await harness.Http.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: {", await reader.ReadLineAsync());
        } // disposing the response mid-stream closes the client's connection
    }

    private static async Task WaitForAbortAsync(HttpContext http, TaskCompletionSource aborted)
    {
        await http.RequestAborted.WhenCancelled();
        aborted.TrySetResult();
    }
}
