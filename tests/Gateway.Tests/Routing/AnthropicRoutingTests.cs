using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Backends.Anthropic;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>An Anthropic backend end to end: <c>type: anthropic</c> in the config, a public prompt routed there, OpenAI shape back.</summary>
public sealed class AnthropicRoutingTests : IAsyncLifetime
{
    private const string Key = "sk-ant-test-backend-key";
    private readonly RoutingHarness _harness = new();
    private LoopbackAnthropicUpstream _upstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await LoopbackAnthropicUpstream.StartAsync();
        _harness.OtherBackends.Add(("claude", "anthropic", _upstream.BaseAddress.ToString(), 0.95, Key));
        await _harness.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task Public_request_is_answered_by_the_anthropic_backend_with_its_key_and_header()
    {
        _upstream.Respond = LoopbackAnthropicUpstream.Json(200,
            """{"id":"msg_01","type":"message","role":"assistant","model":"claude-test-1","content":[{"type":"text","text":"Paris."}],"stop_reason":"end_turn","usage":{"input_tokens":8,"output_tokens":2}}""");

        var (response, body) = await _harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, authorization: "Bearer client-secret"));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("claude", RoutingHarness.BackendOf(response));
        using var json = JsonDocument.Parse(body);
        Assert.Equal("chat.completion", json.RootElement.GetProperty("object").GetString());
        Assert.Equal("Paris.", json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", json.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        var sent = _upstream.SingleRequest;
        Assert.Equal(("POST", "/v1/messages"), (sent.Method, sent.Path));
        Assert.Equal(Key, sent.Headers["x-api-key"]);
        Assert.False(sent.Headers.ContainsKey("Authorization")); // never the client's credentials
        Assert.Contains(RoutingHarness.PublicPrompt, sent.Body);
        Assert.Null(_harness.Engine.Model.LastRequest);
        Assert.DoesNotContain(Key, _harness.Logs.All);
    }

    [Fact]
    public async Task Public_stream_is_translated_to_openai_chunks_with_the_backend_header()
    {
        _upstream.Respond = LoopbackAnthropicUpstream.Events(AnthropicScript.HelloWorld());

        var (response, body) = await _harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("claude", RoutingHarness.BackendOf(response));
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = Sse.ParseStrict(body);
        Assert.Equal("Hello, world", Sse.Text(events));
        Assert.Equal("stop", Sse.FinishReason(events));
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
        Assert.Single(events.Select(e => e.GetProperty("id").GetString()).Distinct());
        Assert.Contains("\"stream\":true", _upstream.SingleRequest.Body);
        Assert.Null(_harness.Engine.Model.LastRequest);
    }

    [Fact]
    public async Task Confidential_request_never_reaches_the_anthropic_backend()
    {
        var (response, _) = await _harness.SendAsync(RoutingHarness.Chat("CONFIDENTIAL: the merger terms", stream: true));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Empty(_upstream.Requests);
    }

    [Fact]
    public async Task An_overload_right_after_message_start_fails_over_to_the_next_backend_before_anything_is_sent()
    {
        await using var cloud = await LoopbackOpenAiUpstream.StartAsync();
        await using var harness = new RoutingHarness();
        harness.OtherBackends.Add(("claude", "anthropic", _upstream.BaseAddress.ToString(), 0.99, Key));
        harness.Clouds.Add(("cloud-a", cloud, 0.9, "sk-a"));
        await harness.StartAsync();
        _upstream.Respond = LoopbackAnthropicUpstream.Events(
        [
            ("message_start", AnthropicScript.MessageStart),
            ("ping", AnthropicScript.Ping),
            ("error", """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"""),
        ]);

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.Equal("c0 c1 c2 ", Sse.Text(Sse.ParseStrict(body))); // the other cloud's whole answer, nothing of claude's
        Assert.Null(harness.Engine.Model.LastRequest); // not continued locally
        Assert.Equal(2, _upstream.Requests.Count); // 529-equivalent: retried once on claude, then the next backend
    }
}
