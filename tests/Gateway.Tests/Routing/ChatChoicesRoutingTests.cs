using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Backends.Anthropic;
using InferenceMesh.Gateway.Tests.Common;
using Microsoft.AspNetCore.Http;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// <c>n</c> above 1 on the plan's remote steps: an OpenAI-compatible upstream gets it as sent and its n choices reach the
/// client as they are; a stream of n choices that breaks is not continued on the local model; Anthropic (one answer per
/// request) is skipped without counting against its health.
/// </summary>
public sealed class ChatChoicesRoutingTests
{
    private const string ChoicesJson =
        """{"id":"chatcmpl-up","object":"chat.completion","created":1700000000,"model":"upstream-model","choices":[{"index":0,"message":{"role":"assistant","content":"one"},"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":"two"},"finish_reason":"length"},{"index":2,"message":{"role":"assistant","content":"three"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}""";

    private static readonly string[] StreamEvents =
    [
        """{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1700000000,"model":"upstream-model","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}""",
        """{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1700000000,"model":"upstream-model","choices":[{"index":1,"delta":{"role":"assistant","content":""},"finish_reason":null}]}""",
        """{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1700000000,"model":"upstream-model","choices":[{"index":1,"delta":{"content":"second"},"finish_reason":null}]}""",
        """{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1700000000,"model":"upstream-model","choices":[{"index":0,"delta":{"content":"first"},"finish_reason":null}]}""",
        """{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1700000000,"model":"upstream-model","choices":[{"index":1,"delta":{},"finish_reason":"stop"}]}""",
        """{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1700000000,"model":"upstream-model","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}""",
    ];

    private static HttpRequestMessage Chat(int n, bool stream = false, string model = "auto") => new(HttpMethod.Post, "/v1/chat/completions")
    {
        Content = ApiAssert.Json(JsonSerializer.Serialize(new
        {
            model,
            messages = new[] { new { role = "user", content = RoutingHarness.PublicPrompt } },
            n,
            stream,
        })),
    };

    [Fact]
    public async Task An_openai_upstream_receives_n_and_its_choices_come_back_intact()
    {
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = async (http, _) =>
        {
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(ChoicesJson);
        };

        var (response, body) = await harness.SendAsync(Chat(3));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.Equal(ChoicesJson, body);
        using var sent = JsonDocument.Parse(Assert.Single(upstream.ChatRequests).Body);
        Assert.Equal(3, sent.RootElement.GetProperty("n").GetInt32());
        Assert.Null(harness.Engine.Model.LastRequest);
    }

    [Fact]
    public async Task A_streamed_answer_of_n_choices_is_relayed_event_for_event_and_whole_only_when_each_finished()
    {
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = async (http, _) =>
        {
            http.Response.ContentType = "text/event-stream";
            foreach (var item in StreamEvents)
            {
                await http.Response.WriteAsync("data: " + item + "\n\n");
            }

            // No [DONE]: an end after every choice's finish is a whole answer (one finish only would be a cut one).
        };

        var (response, body) = await harness.SendAsync(Chat(2, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal(string.Concat(StreamEvents.Select(e => "data: " + e + "\n\n")) + "data: [DONE]\n\n", body);
        Assert.Null(harness.Engine.Model.LastRequest);
        Assert.Equal(0, harness.Health.Get("cloud-a").Failures);
    }

    [Fact]
    public async Task A_stream_of_n_choices_that_breaks_ends_with_an_error_event_and_is_not_continued_locally()
    {
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = async (http, _) =>
        {
            http.Response.ContentType = "text/event-stream";
            foreach (var item in StreamEvents[..^1])
            {
                await http.Response.WriteAsync("data: " + item + "\n\n"); // choice 1 finished, choice 0 never does
            }
        };

        var (response, body) = await harness.SendAsync(Chat(2, stream: true));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith(string.Concat(StreamEvents[..^1].Select(e => "data: " + e + "\n\n")), body);
        var events = Sse.ParseStrict(body);
        var error = events[^1].GetProperty("error");
        Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
        Assert.Contains("'n'", error.GetProperty("message").GetString());
        Assert.Null(harness.Engine.Model.LastRequest); // the local model was not asked to continue
    }

    [Fact]
    public async Task N_in_a_conversation_is_a_400_naming_n()
    {
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _ = harness;
        await using var __ = upstream;
        var conversation = await Context.ContextHttp.CreateConversationAsync(harness.Http);
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ApiAssert.Json($$"""{"model":"auto","conversation":"{{conversation}}","n":2,"messages":[{"role":"user","content":"{{RoutingHarness.PublicPrompt}}"}]}"""),
        };

        var (response, _) = await harness.SendAsync(request);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "n", code: "unsupported_parameter");
        Assert.Empty(upstream.ChatRequests);
        Assert.Empty(await Context.ContextHttp.ItemsAsync(harness.Http, conversation)); // nothing stored
    }

    [Fact]
    public async Task Anthropic_is_skipped_for_n_above_1_without_a_health_failure_and_the_local_model_answers_n_choices()
    {
        await using var anthropic = await LoopbackAnthropicUpstream.StartAsync();
        await using var harness = new RoutingHarness();
        harness.OtherBackends.Add(("claude", "anthropic", anthropic.BaseAddress.ToString(), 0.95, "sk-ant-test"));
        await harness.StartAsync();

        var (response, body) = await harness.SendAsync(Chat(2));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Empty(anthropic.Requests);
        Assert.Equal(0, harness.Health.Get("claude").Failures);
        using var json = JsonDocument.Parse(body);
        Assert.Equal([0, 1], json.RootElement.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("index").GetInt32()));

        // A model only Anthropic offers: no step can take n, so the client learns why.
        var (only, _) = await harness.SendAsync(Chat(2, model: "claude-test-1"));
        await ApiAssert.ErrorAsync(only, HttpStatusCode.BadRequest, param: "n", code: "unsupported_by_backend");
        Assert.Empty(anthropic.Requests);
    }
}
