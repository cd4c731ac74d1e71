using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// <c>--inline-io true</c> (Kestrel runs request code on its socket threads): the cloud path answers, streams stay
/// well framed, and a confidential request still never reaches the upstream.
/// </summary>
public sealed class InlineIoTests
{
    [Fact]
    public async Task Forwarded_answers_and_streams_are_intact_and_confidential_requests_stay_local()
    {
        var (harness, upstream) = await RoutingTests.StartAsync(h => h.ExtraArgs.AddRange(["--inline-io", "true"]));
        await using var _ = harness;
        await using var __ = upstream;

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        using (var json = JsonDocument.Parse(body))
        {
            Assert.Equal("from the cloud", json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        }

        var (streamed, events) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));
        Assert.True(streamed.StatusCode == HttpStatusCode.OK, events);
        Assert.Equal("text/event-stream", streamed.Content.Headers.ContentType?.MediaType);
        var parsed = Sse.ParseStrict(events);
        Assert.Equal("c0 c1 c2 ", Sse.Text(parsed));
        Assert.Equal("stop", Sse.FinishReason(parsed));
        Assert.Equal(2, upstream.ChatRequests.Count());

        var (local, localBody) = await harness.SendAsync(RoutingHarness.Chat("My card number is " + RoutingHarness.Card));
        Assert.True(local.StatusCode == HttpStatusCode.OK, localBody);
        Assert.Equal("local", RoutingHarness.BackendOf(local));
        Assert.Equal(2, upstream.ChatRequests.Count()); // the confidential prompt never left
    }
}
