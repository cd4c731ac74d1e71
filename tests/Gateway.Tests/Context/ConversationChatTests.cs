using System.Net;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Tests.Backends.Anthropic;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Gateway.Tests.Routing;
using static InferenceMesh.Gateway.Tests.Context.ContextHttp;

namespace InferenceMesh.Gateway.Tests.Context;

/// <summary>
/// Chat requests that name a conversation, through the real gateway (scripted local engine, loopback cloud upstreams):
/// the history goes before the new message whatever backend answers, the turn is stored after the whole answer from
/// every kind of backend, and a conversation that once held a confidential message keeps every later message local.
/// </summary>
public sealed class ConversationChatTests
{
    private static async Task<(RoutingHarness Harness, RecordingUpstream Upstream)> StartAsync(Action<RoutingHarness>? configure = null)
    {
        var upstream = await RecordingUpstream.StartAsync();
        var harness = new RoutingHarness();
        harness.Clouds.Add(("cloud-a", upstream, 0.95, "sk-a"));
        configure?.Invoke(harness);
        await harness.StartAsync();
        return (harness, upstream);
    }

    private static HttpRequestMessage Chat(string content, string conversationField, bool stream = false, string extra = "", string? privacy = null)
    {
        var request = RoutingHarness.Chat(content, stream, privacy: privacy);
        var json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = "auto",
            ["stream"] = stream,
            ["messages"] = new[] { new Dictionary<string, string> { ["role"] = "user", ["content"] = content } },
        });
        request.Content = ApiAssert.Json(json[..^1] + ",\"conversation\":" + conversationField + extra + "}");
        return request;
    }

    private static string Id(string id) => JsonSerializer.Serialize(id);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Public_history_goes_before_the_new_message_to_the_cloud_and_the_turn_is_stored(bool stream)
    {
        var (harness, upstream) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        var id = await CreateConversationAsync(harness.Http,
            """{"items":[{"role":"user","content":"Earlier we talked about Paris."},{"role":"assistant","content":"Yes, Paris."}]}""");

        var (response, body) = await harness.SendAsync(Chat(RoutingHarness.PublicPrompt, Id(id), stream, extra: ",\"store\":true"));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + harness.Logs.All);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        var sent = Assert.Single(upstream.ChatRequests).Body;
        using (var forwarded = JsonDocument.Parse(sent))
        {
            var messages = forwarded.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()).ToList();
            Assert.Equal(["Earlier we talked about Paris.", "Yes, Paris.", RoutingHarness.PublicPrompt], messages);
            Assert.False(forwarded.RootElement.TryGetProperty("conversation", out _), sent);
            Assert.False(forwarded.RootElement.TryGetProperty("store", out _), sent);
        }

        var answer = stream ? "c0 c1 c2 " : "from the cloud";
        Assert.Equal(
            [("user", "Earlier we talked about Paris.", null), ("assistant", "Yes, Paris.", null), ("user", RoutingHarness.PublicPrompt, null), ("assistant", answer, "cloud-a")],
            await ItemsAsync(harness.Http, id));
    }

    [Theory]
    [InlineData(true, "smile |\\ud83d|\\ude00| done", "smile \U0001F600 done")] // a pair the cloud split across two chunks joins again
    [InlineData(true, "cut |\\ud83d", "cut \uFFFD")]
    [InlineData(false, "cut \\ud83d here", "cut \uFFFD here")]
    public async Task A_surrogate_pair_the_cloud_split_or_cut_is_stored_as_text(bool stream, string upstreamJsonTexts, string stored)
    {
        var (harness, upstream) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        upstream.ChunkJsonTexts = upstreamJsonTexts.Split('|');
        upstream.AnswerJsonText = upstreamJsonTexts;
        var id = await CreateConversationAsync(harness.Http);

        var (response, body) = await harness.SendAsync(Chat(RoutingHarness.PublicPrompt, Id(id), stream));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + harness.Logs.All);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.Equal(("assistant", stored, "cloud-a"), (await ItemsAsync(harness.Http, id))[^1]);
    }

    [Fact]
    public async Task A_conversation_that_once_held_a_card_number_keeps_a_later_harmless_message_local_even_after_the_item_is_deleted()
    {
        var (harness, upstream) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        var id = await CreateConversationAsync(harness.Http);

        var (first, firstBody) = await harness.SendAsync(Chat($"Please remember my card {RoutingHarness.Card}", Id(id)));
        Assert.True(first.StatusCode == HttpStatusCode.OK, firstBody);
        Assert.Equal("local", RoutingHarness.BackendOf(first));
        var conversation = await GetAsync(harness.Http, $"/v1/conversations/{id}");
        var level = conversation.GetProperty("privacy").GetString();
        Assert.Contains(level, new[] { "confidential", "restricted" });

        // Remove the message that held the card: the conversation stays at its level.
        var items = await GetAsync(harness.Http, $"/v1/conversations/{id}/items?order=asc");
        await SendAsync(harness.Http, HttpMethod.Delete, $"/v1/conversations/{id}/items/{items.GetProperty("first_id").GetString()}");
        Assert.DoesNotContain(await ItemsAsync(harness.Http, id), i => i.Text.Contains(RoutingHarness.Card, StringComparison.Ordinal));

        foreach (var stream in new[] { false, true })
        {
            var request = Chat(RoutingHarness.PublicPrompt, Id(id), stream);
            request.Headers.Add("X-InferenceMesh-Privacy", "public"); // a caller cannot lower it either
            var (later, laterBody) = await harness.SendAsync(request);
            Assert.True(later.StatusCode == HttpStatusCode.OK, laterBody);
            Assert.Equal("local", RoutingHarness.BackendOf(later));
            Assert.Equal(level, later.Headers.GetValues("X-InferenceMesh-Privacy").Single());
        }

        Assert.Empty(upstream.Requests);
        Assert.DoesNotContain(RoutingHarness.Card, harness.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain(RoutingHarness.PublicPrompt, harness.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain("Hello world", harness.Logs.All, StringComparison.Ordinal);

        // The same message outside the conversation goes to the cloud: the conversation's level is what kept it local.
        var (plain, _) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(plain));
    }

    [Fact]
    public async Task Items_added_by_hand_with_a_card_number_keep_the_conversation_local()
    {
        var (harness, upstream) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        var id = await CreateConversationAsync(harness.Http, $$"""{"items":[{"role":"user","content":"card {{RoutingHarness.Card}}"}]}""");

        var (response, _) = await harness.SendAsync(Chat(RoutingHarness.PublicPrompt, $$"""{"id":{{Id(id)}}}"""));

        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Empty(upstream.Requests);
        // The local engine saw the history before the new message.
        Assert.Equal(["user", "assistant"], (await ItemsAsync(harness.Http, id)).Skip(1).Select(i => i.Role).Take(2));
        Assert.Equal($"card {RoutingHarness.Card}", harness.Engine.Model.LastMessages![0].Content);
        Assert.Equal(RoutingHarness.PublicPrompt, harness.Engine.Model.LastMessages![1].Content);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_local_answer_is_stored_with_its_backend_and_level_and_store_false_stores_nothing(bool stream)
    {
        var (harness, upstream) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        var id = await CreateConversationAsync(harness.Http);

        var (response, body) = await harness.SendAsync(Chat("Say hello.", Id(id), stream, privacy: "internal"));
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal([("user", "Say hello.", null), ("assistant", "Hello world", "local")], await ItemsAsync(harness.Http, id));
        Assert.Equal("internal", (await GetAsync(harness.Http, $"/v1/conversations/{id}")).GetProperty("privacy").GetString());

        var (readOnly, _) = await harness.SendAsync(Chat("Again?", Id(id), stream, extra: ",\"store\":false"));
        Assert.Equal(HttpStatusCode.OK, readOnly.StatusCode);
        Assert.Equal(2, (await ItemsAsync(harness.Http, id)).Count);
        Assert.Equal(["Say hello.", "Hello world", "Again?"], harness.Engine.Model.LastMessages!.Select(m => m.Content));
    }

    [Fact]
    public async Task A_client_that_leaves_mid_stream_stores_nothing()
    {
        var (harness, upstream) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        var id = await CreateConversationAsync(harness.Http);
        var endless = new FakeGeneration(["Once", " upon"], new GenerationOutcome(FinishReason.Stop, 3, 2), endless: true);
        harness.Engine.Model.OnStart = _ => EngineResult<IGeneration>.Ok(endless);

        using (var response = await harness.Http.SendAsync(Chat("Tell me a story.", Id(id), stream: true, privacy: "confidential"), HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line && !line.Contains("upon", StringComparison.Ordinal))
            {
            }
        }

        await endless.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await endless.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // A complete turn afterwards is the only one stored.
        harness.Engine.Model.OnStart = _ => EngineResult<IGeneration>.Ok(new FakeGeneration(["Done."], new GenerationOutcome(FinishReason.Stop, 3, 1)));
        var (next, _) = await harness.SendAsync(Chat("Short one.", Id(id), stream: true, privacy: "confidential"));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal([("user", "Short one.", null), ("assistant", "Done.", "local")], await ItemsAsync(harness.Http, id));
    }

    [Fact]
    public async Task A_remote_stream_broken_and_finished_locally_is_stored_as_one_answer()
    {
        var (harness, upstream) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        upstream.Behaviour = UpstreamBehaviour.CloseAfterChunks;
        upstream.CloseAfter = 2;
        upstream.CloseGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var id = await CreateConversationAsync(harness.Http);

        using var response = await harness.Http.SendAsync(Chat(RoutingHarness.PublicPrompt, Id(id), stream: true), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var received = new System.Text.StringBuilder();
        while (!received.ToString().Contains("c1 ", StringComparison.Ordinal))
        {
            received.Append(await reader.ReadLineAsync()).Append('\n');
        }

        // The client has the upstream's first chunks: now the upstream connection dies and the local model finishes.
        upstream.CloseGate.SetResult();
        received.Append(await reader.ReadToEndAsync());

        Assert.Equal("c0 c1 Hello world", Sse.Text(Sse.ParseStrict(received.ToString())));
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.Equal([("user", RoutingHarness.PublicPrompt, null), ("assistant", "c0 c1 Hello world", "cloud-a+local")], await ItemsAsync(harness.Http, id));
    }

    [Fact]
    public async Task A_failed_answer_stores_nothing()
    {
        var (harness, upstream) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        harness.Engine.Model.OnStart = _ => EngineResult<IGeneration>.Fail(new EngineFailure(EngineError.PromptTooLong, "too long", Limit: 64));
        var id = await CreateConversationAsync(harness.Http);

        var (response, _) = await harness.SendAsync(Chat("Say hello.", Id(id), privacy: "confidential"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(await ItemsAsync(harness.Http, id));
    }

    [Theory]
    [InlineData(false, "Paris.")]
    [InlineData(true, "Hello, world")]
    public async Task An_anthropic_answer_is_stored_whole(bool stream, string expected)
    {
        var anthropic = await LoopbackAnthropicUpstream.StartAsync();
        await using var ownedAnthropic = anthropic;
        anthropic.Respond = stream
            ? LoopbackAnthropicUpstream.Events(AnthropicScript.HelloWorld())
            : LoopbackAnthropicUpstream.Json(200,
                """{"id":"msg_01","type":"message","role":"assistant","model":"claude-test-1","content":[{"type":"text","text":"Paris."}],"stop_reason":"end_turn","usage":{"input_tokens":8,"output_tokens":2}}""");
        var harness = new RoutingHarness();
        harness.OtherBackends.Add(("claude", "anthropic", anthropic.BaseAddress.ToString(), 0.95, "sk-ant"));
        await harness.StartAsync();
        await using var owned = harness;
        var id = await CreateConversationAsync(harness.Http, """{"items":[{"role":"user","content":"We talk about France."}]}""");

        var (response, body) = await harness.SendAsync(Chat(RoutingHarness.PublicPrompt, Id(id), stream));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("claude", RoutingHarness.BackendOf(response));
        Assert.Contains("We talk about France.", anthropic.SingleRequest.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("conv_", anthropic.SingleRequest.Body, StringComparison.Ordinal);
        Assert.Equal(("assistant", expected, "claude"), (await ItemsAsync(harness.Http, id))[^1]);
    }

    [Theory]
    [InlineData(true, "smile |\\ud83d|\\ude00| done", "smile \U0001F600 done")] // a pair split across two deltas joins again
    [InlineData(true, "cut |\\ud83d", "cut \uFFFD")]
    [InlineData(false, "cut \\ud83d here", "cut \uFFFD here")]
    public async Task A_surrogate_pair_anthropic_split_or_cut_is_stored_as_text(bool stream, string upstreamJsonTexts, string stored)
    {
        var anthropic = await LoopbackAnthropicUpstream.StartAsync();
        await using var ownedAnthropic = anthropic;
        anthropic.Respond = stream
            ? LoopbackAnthropicUpstream.Events(AnthropicScript.OfJsonTexts(upstreamJsonTexts.Split('|')))
            : LoopbackAnthropicUpstream.Json(200,
                $$$"""{"id":"msg_01","type":"message","role":"assistant","model":"claude-test-1","content":[{"type":"text","text":"{{{upstreamJsonTexts}}}"}],"stop_reason":"end_turn","usage":{"input_tokens":8,"output_tokens":2}}""");
        var harness = new RoutingHarness();
        harness.OtherBackends.Add(("claude", "anthropic", anthropic.BaseAddress.ToString(), 0.95, "sk-ant"));
        await harness.StartAsync();
        await using var owned = harness;
        var id = await CreateConversationAsync(harness.Http);

        var (response, body) = await harness.SendAsync(Chat(RoutingHarness.PublicPrompt, Id(id), stream));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + harness.Logs.All);
        Assert.Equal("claude", RoutingHarness.BackendOf(response));
        Assert.Equal(("assistant", stored, "claude"), (await ItemsAsync(harness.Http, id))[^1]);
    }

    [Fact]
    public async Task Bad_conversation_fields_are_refused_and_nothing_is_sent()
    {
        var (harness, upstream) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        var id = await CreateConversationAsync(harness.Http);

        var (unknown, _) = await harness.SendAsync(Chat(RoutingHarness.PublicPrompt, Id("conv_" + new string('c', 32))));
        await ApiAssert.ErrorAsync(unknown, HttpStatusCode.NotFound, "conversation", "conversation_not_found");
        foreach (var field in new[] { "42", Id("conv_1"), """{"name":"x"}""" })
        {
            var (malformed, _) = await harness.SendAsync(Chat(RoutingHarness.PublicPrompt, field));
            await ApiAssert.ErrorAsync(malformed, HttpStatusCode.BadRequest, "conversation");
        }

        var (badStore, _) = await harness.SendAsync(Chat(RoutingHarness.PublicPrompt, Id(id), extra: ",\"store\":\"yes\""));
        await ApiAssert.ErrorAsync(badStore, HttpStatusCode.BadRequest, "store");
        Assert.Empty(upstream.Requests);
        Assert.Empty(await ItemsAsync(harness.Http, id));
    }

    [Fact]
    public async Task With_no_history_a_request_naming_a_conversation_is_400_and_store_alone_is_ignored()
    {
        var (harness, upstream) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        await using var off = await TestEnvironment.StartAsync(env => env.ExtraArgs.Add("--no-history"));

        using var named = await off.Http.PostAsync("/v1/chat/completions",
            ApiAssert.Json($$"""{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"conversation":"conv_{{new string('d', 32)}}"}"""));
        await ApiAssert.ErrorAsync(named, HttpStatusCode.BadRequest, "conversation", "history_disabled");
        using var list = await off.Http.GetAsync("/v1/conversations");
        await ApiAssert.ErrorAsync(list, HttpStatusCode.BadRequest, code: "history_disabled");
        using var create = await off.Http.PostAsync("/v1/conversations", ApiAssert.Json("{}"));
        await ApiAssert.ErrorAsync(create, HttpStatusCode.BadRequest, code: "history_disabled");

        // "store" without a conversation stores nothing anywhere, and it is not forwarded.
        var request = RoutingHarness.Chat(RoutingHarness.PublicPrompt);
        request.Content = ApiAssert.Json($$"""{"model":"auto","messages":[{"role":"user","content":"{{RoutingHarness.PublicPrompt}}"}],"store":true}""");
        var (stored, _) = await harness.SendAsync(request);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(stored));
        Assert.DoesNotContain("\"store\"", Assert.Single(upstream.ChatRequests).Body, StringComparison.Ordinal);
        Assert.Equal(0, (await GetAsync(harness.Http, "/v1/conversations")).GetProperty("data").GetArrayLength());
    }
}
