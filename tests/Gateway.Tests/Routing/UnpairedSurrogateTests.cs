using System.Net;
using InferenceMesh.Gateway.Tests.Backends.Anthropic;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// JSON allows an unpaired surrogate escape (<c>"\ud83d"</c> alone); .NET refuses to read it as a string. A client's field
/// holding one is a 400 naming the field (it was a 500), and nothing reaches an upstream; an upstream that splits an
/// emoji's surrogate pair across two stream chunks (as servers that cut UTF-16 strings do) is relayed intact, by an
/// OpenAI-compatible upstream as it came, by an Anthropic upstream (translated) with the pair joined again.
/// </summary>
public sealed class UnpairedSurrogateTests
{
    [Fact]
    public async Task A_prompt_with_an_unpaired_surrogate_is_400_naming_the_field_and_the_best_scoring_upstream_receives_nothing()
    {
        var recording = await RecordingUpstream.StartAsync();
        var (harness, _) = await RoutingTests.StartAsync(upstream: recording);
        await using var _h = harness;
        await using var _r = recording;

        foreach (var (path, content, param) in new[]
        {
            ("/v1/chat/completions", """ "What is the capital of France? \ud83d" """, "messages[0].content"),
            ("/v1/chat/completions", """[{"type":"text","text":"What is \udc00 the capital?"}]""", "messages[0].content[0].text"),
            ("/v1/route", """ "What is the capital of France? \ud83d" """, "messages[0].content"),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path)
            {
                Content = ApiAssert.Json($$"""{"model":"auto","messages":[{"role":"user","content":{{content}}}]}"""),
            };
            var (response, body) = await harness.SendAsync(request);

            var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "invalid_value");
            Assert.Contains("unpaired UTF-16 surrogate", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("capital", body, StringComparison.Ordinal);
        }

        Assert.Empty(recording.ChatRequests);
    }

    [Fact]
    public async Task An_upstream_stream_that_splits_a_surrogate_pair_across_chunks_is_relayed_intact()
    {
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _h = harness;
        await using var _u = upstream;
        upstream.ChunkJsonTexts = ["smile ", "\\ud83d", "\\ude00", " done"];

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        var payloads = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", payloads[^1]);
        Assert.Contains(payloads, p => p.Contains("\"content\":\"\\ud83d\"", StringComparison.Ordinal));
        Assert.Contains(payloads, p => p.Contains("\"content\":\"\\ude00\"", StringComparison.Ordinal));
        Assert.Contains(payloads, p => p.Contains("\"finish_reason\":\"stop\"", StringComparison.Ordinal));
        Assert.DoesNotContain("\"error\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_upstream_answer_with_an_unpaired_surrogate_is_passed_on_as_it_came()
    {
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _h = harness;
        await using var _u = upstream;
        upstream.AnswerJsonText = "cut emoji \\ud83d";

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.Contains("\"content\":\"cut emoji \\ud83d\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_anthropic_stream_that_splits_a_surrogate_pair_across_deltas_is_relayed_with_the_pair_joined_and_a_lone_half_as_U_FFFD()
    {
        var events = await StreamThroughAnthropicAsync(AnthropicScript.OfJsonTexts("smile ", "\\ud83d", "\\ude00", " done, cut ", "\\ud83d"));

        Assert.Equal("smile \U0001F600 done, cut \uFFFD", Sse.Text(events));
        Assert.Equal("stop", Sse.FinishReason(events));
    }

    [Fact]
    public async Task An_anthropic_stream_with_a_lone_surrogate_in_its_model_and_stop_reason_is_relayed_whole()
    {
        var script = AnthropicScript.HelloWorld(stopReason: "end_turn\\udc00");
        script[0] = ("message_start", AnthropicScript.MessageStart.Replace("claude-test-1", "claude-\\ud83d", StringComparison.Ordinal));

        var events = await StreamThroughAnthropicAsync(script);

        Assert.Equal("Hello, world", Sse.Text(events));
        Assert.NotNull(Sse.FinishReason(events));
    }

    /// <summary>Streams a public chat request that the router sends to a loopback Anthropic upstream playing
    /// <paramref name="script"/>; asserts it was answered by that backend without an error event.</summary>
    private static async Task<IReadOnlyList<System.Text.Json.JsonElement>> StreamThroughAnthropicAsync(List<(string Event, string Data)> script)
    {
        var anthropic = await LoopbackAnthropicUpstream.StartAsync();
        await using var _a = anthropic;
        anthropic.Respond = LoopbackAnthropicUpstream.Events(script);
        var harness = new RoutingHarness();
        harness.OtherBackends.Add(("claude", "anthropic", anthropic.BaseAddress.ToString(), 0.95, "sk-ant"));
        await harness.StartAsync();
        await using var _h = harness;

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + harness.Logs.All);
        Assert.Equal("claude", RoutingHarness.BackendOf(response));
        Assert.DoesNotContain("\"error\"", body, StringComparison.Ordinal);
        return Sse.ParseStrict(body);
    }
}
