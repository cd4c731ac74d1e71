using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// More than OpenAI's 4 stop strings: the local engine takes up to 16 (evaluation harnesses send more), an
/// OpenAI-compatible upstream is never sent more than 4; the plan's next step answers instead, and a plan with no step
/// that can carry them is a 400 naming <c>stop</c>.
/// </summary>
public sealed class StopSequenceRoutingTests
{
    private static HttpRequestMessage Chat(int stops, string model = "auto") => new(HttpMethod.Post, "/v1/chat/completions")
    {
        Content = ApiAssert.Json(JsonSerializer.Serialize(new
        {
            model,
            messages = new[] { new { role = "user", content = RoutingHarness.PublicPrompt } },
            stop = Enumerable.Range(1, stops).Select(i => $"<stop {i}>").ToArray(),
        })),
    };

    [Fact]
    public async Task Four_stop_strings_still_go_to_the_cloud_and_five_are_answered_by_the_local_model_without_reaching_it()
    {
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _ = harness;
        await using var __ = upstream;

        var (four, fourBody) = await harness.SendAsync(Chat(4));
        Assert.True(four.StatusCode == HttpStatusCode.OK, fourBody);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(four));
        using (var sent = JsonDocument.Parse(Assert.Single(upstream.ChatRequests).Body))
        {
            Assert.Equal(4, sent.RootElement.GetProperty("stop").GetArrayLength());
        }

        var (five, fiveBody) = await harness.SendAsync(Chat(5));
        Assert.True(five.StatusCode == HttpStatusCode.OK, fiveBody);
        Assert.Equal("local", RoutingHarness.BackendOf(five));
        Assert.Single(upstream.ChatRequests); // still only the first request
        Assert.Equal(Enumerable.Range(1, 5).Select(i => $"<stop {i}>"), harness.Engine.Model.LastRequest!.Stop);
        Assert.Equal(0, harness.Health.Get("cloud-a").Failures); // not the backend's fault: no failure counts against it
    }

    [Fact]
    public async Task Sixteen_stop_strings_for_a_model_only_the_cloud_offers_are_a_400_naming_stop_and_nothing_is_sent()
    {
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _ = harness;
        await using var __ = upstream;

        var (response, _) = await harness.SendAsync(Chat(16, model: "gpt-4o"));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "stop", code: "unsupported_by_backend");
        Assert.Contains("4", error.GetProperty("message").GetString());
        Assert.Equal("none", RoutingHarness.BackendOf(response));
        Assert.Empty(upstream.ChatRequests);
    }
}
