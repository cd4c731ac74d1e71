using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Backends.Anthropic;
using InferenceMesh.Gateway.Tests.Common;
using Microsoft.AspNetCore.Http;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// Upstream statuses from loopback stand-ins of an OpenAI-compatible cloud (<see cref="LoopbackOpenAiUpstream.Script"/>) and
/// of Anthropic (<see cref="LoopbackAnthropicUpstream"/>): rate limits with <c>Retry-After</c>, rejected keys, HTML error pages.
/// "gpt-4o" is a model only the clouds offer: the plan has no local step.
/// </summary>
public sealed class UpstreamStatusTests
{
    private const string CloudOnlyModel = "gpt-4o";
    private const string Key = "sk-backend-secret-a";

    private static Func<HttpContext, bool, Task> Status(int status, string contentType, string body, string? retryAfter = null) => async (http, _) =>
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = contentType;
        if (retryAfter is not null)
        {
            http.Response.Headers.RetryAfter = retryAfter;
        }

        await http.Response.WriteAsync(body);
    };

    private static async Task<(RoutingHarness Harness, LoopbackOpenAiUpstream Cloud, LoopbackAnthropicUpstream Claude)> StartAsync()
    {
        var anthropic = await LoopbackAnthropicUpstream.StartAsync();
        var (harness, cloud) = await RoutingTests.StartAsync(
            h =>
            {
                h.Options = h.Options with { MaxRetryAttempts = 3 };
                h.OtherBackends.Add(("claude", "anthropic", anthropic.BaseAddress.ToString(), 0.9, "sk-ant-secret"));
            },
            key: Key);
        return (harness, cloud, anthropic);
    }

    [Fact]
    public async Task A_rate_limited_backend_is_not_retried_and_the_next_one_answers()
    {
        var (harness, cloud, claude) = await StartAsync();
        await using var _ = harness;
        await using var __ = cloud;
        await using var ___ = claude;
        cloud.Script = Status(429, "application/json", """{"error":{"message":"slow down","type":"requests"}}""", retryAfter: "30");
        claude.Respond = LoopbackAnthropicUpstream.Json(200,
            """{"id":"msg_01","model":"claude-test-1","content":[{"type":"text","text":"Paris."}],"stop_reason":"end_turn","usage":{"input_tokens":8,"output_tokens":2}}""");

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, model: CloudOnlyModel));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("claude", RoutingHarness.BackendOf(response));
        Assert.Single(cloud.ChatRequests);
    }

    [Fact]
    public async Task When_every_backend_is_rate_limited_the_client_gets_429_in_our_shape_with_the_shortest_retry_after()
    {
        var (harness, cloud, claude) = await StartAsync();
        await using var _ = harness;
        await using var __ = cloud;
        await using var ___ = claude;
        cloud.Script = Status(429, "application/json", """{"error":{"message":"upstream says: slow down","type":"requests"}}""", retryAfter: "30");
        claude.Respond = LoopbackAnthropicUpstream.Json(429, """{"type":"error","error":{"type":"rate_limit_error","message":"upstream says: slow"}}""", retryAfter: "12");

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, model: CloudOnlyModel));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.TooManyRequests, code: "rate_limit_exceeded");
        Assert.Equal("12", response.Headers.GetValues("Retry-After").Single());
        Assert.Equal("none", RoutingHarness.BackendOf(response));
        Assert.DoesNotContain("upstream says", body);
        Assert.Single(cloud.ChatRequests); // a 429 is not retried on the same backend
        Assert.Single(claude.Requests);
    }

    [Fact]
    public async Task When_every_backend_is_overloaded_or_down_the_client_gets_503_with_the_shortest_retry_after()
    {
        var (harness, cloud, claude) = await StartAsync();
        await using var _ = harness;
        await using var __ = cloud;
        await using var ___ = claude;
        cloud.Script = Status(503, "application/json", """{"error":{"message":"upstream says: down for maintenance"}}""", retryAfter: "40");
        claude.Respond = LoopbackAnthropicUpstream.Json(529, """{"type":"error","error":{"type":"overloaded_error","message":"upstream says: overloaded"}}""", retryAfter: "9");

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, model: CloudOnlyModel));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.ServiceUnavailable, code: "backends_unavailable");
        Assert.Equal("9", response.Headers.GetValues("Retry-After").Single());
        Assert.Equal("none", RoutingHarness.BackendOf(response));
        Assert.DoesNotContain("upstream says", body);
    }

    [Fact]
    public async Task A_rejected_key_is_not_retried_and_the_upstreams_body_echoing_it_never_reaches_the_client()
    {
        var (harness, cloud, claude) = await StartAsync();
        await using var _ = harness;
        await using var __ = cloud;
        await using var ___ = claude;
        cloud.Script = Status(401, "application/json", $$$"""{"error":{"message":"Incorrect API key provided: {{{Key}}}","type":"invalid_request_error","code":"invalid_api_key"}}""");
        claude.Respond = LoopbackAnthropicUpstream.Json(403, """{"type":"error","error":{"type":"permission_error","message":"key sk-ant-secret may not"}}""");

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, model: CloudOnlyModel));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadGateway, code: "backends_failed");
        Assert.DoesNotContain(Key, body);
        Assert.DoesNotContain("sk-ant-secret", body);
        Assert.Single(cloud.ChatRequests);
        Assert.Single(claude.Requests);
        Assert.DoesNotContain(Key, harness.Logs.All);
    }

    [Theory]
    [InlineData(502, false)]
    [InlineData(200, false)]
    [InlineData(200, true)]
    public async Task An_html_error_page_from_a_proxy_in_front_fails_over_without_passing_the_page_on(int status, bool stream)
    {
        var (harness, cloud, claude) = await StartAsync();
        await using var _ = harness;
        await using var __ = cloud;
        await using var ___ = claude;
        const string Page = "<html><body><h1>502 Bad Gateway</h1>upstream says: nginx</body></html>";
        cloud.Script = Status(status, "text/html", Page);
        claude.Respond = async context =>
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "text/html";
            await context.Response.WriteAsync(Page);
        };

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream, model: CloudOnlyModel));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadGateway, code: "backends_failed");
        Assert.DoesNotContain("nginx", body);
        using var json = JsonDocument.Parse(body);
        Assert.Contains("cloud-a", json.RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(301)]
    [InlineData(307)]
    [InlineData(308)]
    public async Task A_redirect_is_never_followed_so_the_backends_key_goes_nowhere_else(int status)
    {
        await using var elsewhere = await RecordingUpstream.StartAsync();
        var (harness, cloud, claude) = await StartAsync();
        await using var _ = harness;
        await using var __ = cloud;
        await using var ___ = claude;
        cloud.Script = (http, _) =>
        {
            http.Response.StatusCode = status;
            http.Response.Headers.Location = elsewhere.BaseUrl + "/chat/completions";
            return Task.CompletedTask;
        };
        claude.Respond = context =>
        {
            context.Response.StatusCode = status;
            context.Response.Headers.Location = elsewhere.BaseUrl + "/messages";
            return Task.CompletedTask;
        };

        var (response, _) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, model: CloudOnlyModel));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadGateway, code: "backends_failed");
        Assert.Empty(elsewhere.Requests);
        Assert.Single(cloud.ChatRequests);
        Assert.Single(claude.Requests);
    }
}
