using System.Net;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Router.Health;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>Classification, routing, failover and resilience against loopback OpenAI-protocol upstreams.</summary>
public sealed class RoutingTests
{
    /// <summary>A gateway whose best backend for public requests is cloud-a, a loopback upstream (also used by other test classes).</summary>
    internal static async Task<(RoutingHarness Harness, LoopbackOpenAiUpstream Upstream)> StartAsync(
        Action<RoutingHarness>? configure = null, LoopbackOpenAiUpstream? upstream = null, string key = "sk-backend-a")
    {
        upstream ??= await LoopbackOpenAiUpstream.StartAsync();
        var harness = new RoutingHarness();
        harness.Clouds.Add(("cloud-a", upstream, 0.95, key));
        configure?.Invoke(harness);
        await harness.StartAsync();
        return (harness, upstream);
    }

    [Fact]
    public async Task Public_auto_request_goes_to_cloud_a_with_the_model_rewritten_and_the_backend_header()
    {
        var (harness, upstream) = await StartAsync();
        await using var _ = harness;
        await using var __ = upstream;

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.Equal("public", response.Headers.GetValues("X-InferenceMesh-Privacy").Single());
        using var json = JsonDocument.Parse(body);
        Assert.Equal("from the cloud", json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        var sent = Assert.Single(upstream.ChatRequests);
        Assert.Equal("POST", sent.Method);
        Assert.Equal("/v1/chat/completions", sent.Path);
        using var sentJson = JsonDocument.Parse(sent.Body);
        Assert.Equal("auto", sentJson.RootElement.GetProperty("model").GetString()); // models: ["*"], no defaultModel: "auto" unchanged
        Assert.Equal(RoutingHarness.PublicPrompt, sentJson.RootElement.GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Fact]
    public async Task Public_stream_is_relayed_well_framed_with_the_backend_header()
    {
        var (harness, upstream) = await StartAsync();
        await using var _ = harness;
        await using var __ = upstream;

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = Sse.ParseStrict(body);
        Assert.Equal("c0 c1 c2 ", Sse.Text(events));
        Assert.Equal("stop", Sse.FinishReason(events));
    }

    [Theory]
    [InlineData("My card is " + RoutingHarness.Card + ", please check it.")]
    [InlineData("CONFIDENTIAL: quarterly numbers for the board.")]
    public async Task Confidential_request_never_reaches_the_best_scoring_upstream_and_is_answered_locally(string prompt)
    {
        var recording = await RecordingUpstream.StartAsync();
        var (harness, _) = await StartAsync(h => h.Clouds[0] = ("cloud-a", recording, 1.0, "sk-a"), recording);
        await using var __ = harness;
        await using var ___ = recording;

        foreach (var stream in new[] { false, true })
        {
            var (response, body) = await harness.SendAsync(RoutingHarness.Chat(prompt, stream));
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            Assert.Equal("local", RoutingHarness.BackendOf(response));
        }

        // The local model failing must not open a path to the cloud either.
        harness.Engine.Model.OnStart = _ => EngineResult<IGeneration>.Fail(new EngineFailure(EngineError.Overloaded, "busy"));
        var (failed, _) = await harness.SendAsync(RoutingHarness.Chat(prompt));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.Equal("local", RoutingHarness.BackendOf(failed));

        // Asking for the cloud's model by name is refused: nothing allowed can serve it.
        var (named, namedBody) = await harness.SendAsync(RoutingHarness.Chat(prompt, model: "gpt-4o"));
        await ApiAssert.ErrorAsync(named, HttpStatusCode.ServiceUnavailable, code: "no_backend_available");
        Assert.Equal("none", RoutingHarness.BackendOf(named));
        Assert.DoesNotContain(RoutingHarness.Card, namedBody);

        Assert.Empty(recording.Requests);
    }

    // The body is forwarded as received, so a second copy of a key would carry text the classifier never saw (it reads
    // the last one) to the cloud, and an upstream that reads the first one would answer it.
    [Theory]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"My card is CARD."}],"messages":[{"role":"user","content":"PUBLIC"}]}""", "messages")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"My card is CARD.","content":"PUBLIC"}]}""", "messages[0].content")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":[{"type":"text","text":"My card is CARD.","text":"PUBLIC"}]}]}""", "messages[0].content")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"PUBLIC"}],"metadata":{"note":"My card is CARD.","note":"x"}}""", "metadata")]
    public async Task A_body_with_a_duplicate_key_is_400_and_reaches_no_upstream(string template, string param)
    {
        var recording = await RecordingUpstream.StartAsync();
        var (harness, _) = await StartAsync(h => h.Clouds[0] = ("cloud-a", recording, 1.0, "sk-a"), recording);
        await using var __ = harness;
        await using var ___ = recording;
        var body = template.Replace("CARD", RoutingHarness.Card, StringComparison.Ordinal).Replace("PUBLIC", RoutingHarness.PublicPrompt, StringComparison.Ordinal);

        foreach (var path in new[] { "/v1/chat/completions", "/v1/route" })
        {
            using var response = await harness.Http.PostAsync(path, ApiAssert.Json(body));

            var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param, "invalid_json");
            Assert.DoesNotContain(RoutingHarness.Card, error.GetRawText());
        }

        Assert.Empty(recording.Requests);
    }

    [Theory]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"PUBLIC"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"pay","arguments":"{\"card\":\"CARD\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"done"}]}""")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"PUBLIC"}],"tools":[{"type":"function","function":{"name":"weather","description":"Looks up the weather for CARD","parameters":{"type":"object","properties":{}}}}]}""")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"PUBLIC","name":"CARD"}]}""")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"PUBLIC"}],"user":"CARD"}""")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"PUBLIC"}],"metadata":{"note":"CARD"}}""")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"PUBLIC"}],"metadata":{"CARD":"x"}}""")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"PUBLIC"}],"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"description":"CARD"}}}}""")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"PUBLIC"}],"stop":["CARD"]}""")]
    public async Task A_card_number_anywhere_in_the_forwarded_body_keeps_the_request_local(string template)
    {
        // Only the messages' content was classified while the whole body is forwarded: a card number in tool call
        // arguments, a tool's description, a name, user, metadata, a response schema or a stop string went upstream.
        var recording = await RecordingUpstream.StartAsync();
        var (harness, _) = await StartAsync(h => h.Clouds[0] = ("cloud-a", recording, 1.0, "sk-a"), recording);
        await using var __ = harness;
        await using var ___ = recording;
        var body = template.Replace("CARD", RoutingHarness.Card, StringComparison.Ordinal).Replace("PUBLIC", RoutingHarness.PublicPrompt, StringComparison.Ordinal);

        using var route = await harness.Http.PostAsync("/v1/route", ApiAssert.Json(body));
        var explained = JsonDocument.Parse(await route.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, route.StatusCode);
        Assert.Equal("confidential", explained.GetProperty("privacy").GetProperty("level").GetString()); // the detectors' level for a card

        using var response = await harness.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(body));
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Empty(recording.Requests);

        // The same request without the number still goes to the cloud: the other fields do not make it stricter.
        var clean = template.Replace("CARD", "nothing", StringComparison.Ordinal).Replace("PUBLIC", RoutingHarness.PublicPrompt, StringComparison.Ordinal);
        using var cleanResponse = await harness.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(clean));
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(cleanResponse));
    }

    [Fact]
    public async Task Raising_the_level_with_the_header_keeps_a_public_prompt_local_and_an_invalid_header_is_400()
    {
        var recording = await RecordingUpstream.StartAsync();
        var (harness, _) = await StartAsync(upstream: recording);
        await using var _h = harness;
        await using var _r = recording;

        var (raised, _) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, privacy: "restricted"));
        Assert.Equal("local", RoutingHarness.BackendOf(raised));
        Assert.Equal("restricted", raised.Headers.GetValues("X-InferenceMesh-Privacy").Single());

        var (invalid, _) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, privacy: "secret-ish"));
        await ApiAssert.ErrorAsync(invalid, HttpStatusCode.BadRequest, code: "invalid_privacy_header");

        // Lowering is refused by the default policy: the request stays at the classified level (local).
        var (lowered, _) = await harness.SendAsync(RoutingHarness.Chat("CONFIDENTIAL merger plan", privacy: "public"));
        Assert.Equal(HttpStatusCode.OK, lowered.StatusCode);
        Assert.Equal("local", RoutingHarness.BackendOf(lowered));
        Assert.Equal("confidential", lowered.Headers.GetValues("X-InferenceMesh-Privacy").Single());

        Assert.Empty(recording.Requests);
    }

    [Theory]
    [InlineData(UpstreamBehaviour.Status500, false)]
    [InlineData(UpstreamBehaviour.Status503, false)]
    [InlineData(UpstreamBehaviour.Empty200, false)]
    [InlineData(UpstreamBehaviour.Empty200, true)]
    [InlineData(UpstreamBehaviour.MalformedSse, false)]
    [InlineData(UpstreamBehaviour.MalformedSse, true)]
    public async Task Upstream_failing_before_the_first_byte_fails_over_to_local(UpstreamBehaviour behaviour, bool stream)
    {
        var (harness, upstream) = await StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 0 });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Behaviour = behaviour;

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.DoesNotContain("upstream says", body);
        if (stream)
        {
            Assert.Equal("Hello world", Sse.Text(Sse.ParseStrict(body)));
        }
        else
        {
            using var json = JsonDocument.Parse(body);
            Assert.Equal("Hello world", json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        }

        Assert.Single(upstream.ChatRequests);
        Assert.Equal(1, harness.Health.Get("cloud-a").Failures);
    }

    [Fact]
    public async Task A_requested_model_name_reaches_the_log_cut_short_and_without_control_characters()
    {
        await using var harness = await new RoutingHarness().StartAsync(); // the local model only: no backend offers the name
        var hostile = "x\rwarn: forged entry\0\u001b[2J\n" + new string('y', 100_000);

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, model: hostile));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.NotFound, "model", "model_not_found");
        var logged = Assert.Single(harness.Logs.Entries, e => e.Contains("[102]", StringComparison.Ordinal)); // RoutePlanEmpty
        Assert.DoesNotContain(logged, char.IsControl);
        Assert.Contains("x?warn: forged entry??[2J?yyy", logged, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('y', 200), logged, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_connection_fails_over_to_local()
    {
        var upstream = await LoopbackOpenAiUpstream.StartAsync();
        var (harness, _) = await StartAsync(upstream: upstream);
        await using var _h = harness;
        await upstream.DisposeAsync(); // nothing listens there any more

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Equal(BackendFailureKind.Refused, harness.Health.Get("cloud-a").LastFailure);
    }

    [Fact]
    public async Task Retryable_503_is_retried_before_the_first_byte_then_fails_over()
    {
        var (harness, upstream) = await StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 2 });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Behaviour = UpstreamBehaviour.Status503;

        var (response, _) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));

        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Equal(3, upstream.ChatRequests.Count());

        // 500 is not safe to retry: one request only.
        upstream.Behaviour = UpstreamBehaviour.Status500;
        await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));
        Assert.Equal(4, upstream.ChatRequests.Count());
    }

    [Fact]
    public async Task Upstream_400_is_normalised_for_the_client_without_its_text_and_without_failover()
    {
        var (harness, upstream) = await StartAsync();
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Behaviour = UpstreamBehaviour.Status400;

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, code: "upstream_rejected");
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.DoesNotContain("capital of France", body);
        Assert.Null(harness.Engine.Model.LastRequest);
    }

    [Fact]
    public async Task Stream_broken_after_chunks_continues_from_local_in_the_same_stream_without_retry()
    {
        var (harness, upstream) = await StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 3 });
        await using var _ = harness;
        await using var __ = upstream;

        using var request = RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true);
        var (response, body) = await upstream.ReadStreamBrokenAfterTwoChunksAsync(harness.Http, request);
        using var ___ = response;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        var events = Sse.ParseStrict(body); // well framed, ends with [DONE], no half event
        Assert.Equal("c0 c1 Hello world", Sse.Text(events));
        Assert.All(events, e => Assert.Equal("chatcmpl-upstream-1", e.GetProperty("id").GetString()));
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
        Assert.Equal("stop", Sse.FinishReason(events));

        // The local engine continued from the partial assistant text.
        Assert.EndsWith("c0 c1 ", harness.Engine.Model.LastRequest!.Prompt);
        // Never retried after the first byte.
        Assert.Single(upstream.ChatRequests);
        Assert.Equal(BackendFailureKind.StreamCut, harness.Health.Get("cloud-a").LastFailure);
    }

    [Fact]
    public async Task Stream_broken_after_chunks_asking_for_logprobs_is_continued_with_them()
    {
        var (harness, upstream) = await StartAsync();
        await using var _ = harness;
        await using var __ = upstream;
        var json = """{"model":"auto","stream":true,"messages":[{"role":"user","content":"PUBLIC"}],"logprobs":true,"top_logprobs":3}"""
            .Replace("PUBLIC", RoutingHarness.PublicPrompt, StringComparison.Ordinal);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ApiAssert.Json(json) };
        var (response, body) = await upstream.ReadStreamBrokenAfterTwoChunksAsync(harness.Http, request);
        using var ___ = response;

        Assert.Equal("c0 c1 Hello world", Sse.Text(Sse.ParseStrict(body)));
        Assert.Equal(3, harness.Engine.Model.LastRequest!.TopLogProbs); // the local part's tokens are scored too
    }

    [Fact]
    public async Task Stream_broken_after_chunks_is_not_continued_locally_when_the_local_model_cannot_honour_the_request()
    {
        var (harness, upstream) = await StartAsync();
        await using var _ = harness;
        await using var __ = upstream;
        var json = """{"model":"auto","stream":true,"messages":[{"role":"user","content":"PUBLIC"}],"response_format":{"type":"json_object"}}"""
            .Replace("PUBLIC", RoutingHarness.PublicPrompt, StringComparison.Ordinal);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ApiAssert.Json(json) };
        var (response, body) = await upstream.ReadStreamBrokenAfterTwoChunksAsync(harness.Http, request);
        using var ___ = response;

        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        var events = Sse.ParseStrict(body);
        Assert.Equal("c0 c1 ", Sse.Text(events)); // the JSON answer is not finished as free text by the local model
        var error = events[^1].GetProperty("error");
        Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
        Assert.Contains("response_format", error.GetProperty("message").GetString());
        Assert.Null(harness.Engine.Model.LastRequest);
    }

    [Fact]
    public async Task Hang_before_first_byte_times_out_on_the_fake_clock_and_fails_over()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (harness, upstream) = await StartAsync(h =>
        {
            h.Time = time;
            h.Options = h.Options with { MaxRetryAttempts = 0, FirstByteTimeout = TimeSpan.FromSeconds(5) };
        });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Behaviour = UpstreamBehaviour.HangBeforeFirstByte;

        var pending = harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));
        await upstream.RequestArrived;
        time.Advance(TimeSpan.FromSeconds(6));
        var (response, body) = await pending;

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Equal("Hello world", Sse.Text(Sse.ParseStrict(body)));
        Assert.Equal(BackendFailureKind.Timeout, harness.Health.Get("cloud-a").LastFailure);
    }

    [Fact]
    public async Task Circuit_opens_after_repeated_failures_skips_the_cloud_and_closes_after_a_successful_probe()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (harness, upstream) = await StartAsync(h =>
        {
            h.Time = time;
            h.Options = h.Options with
            {
                MaxRetryAttempts = 0,
                CircuitMinimumThroughput = 2,
                CircuitFailureRatio = 0.5,
                CircuitBreakDuration = TimeSpan.FromSeconds(30),
            };
        });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Behaviour = UpstreamBehaviour.Status500;

        for (var i = 0; i < 2; i++)
        {
            var (failed, _) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));
            Assert.Equal("local", RoutingHarness.BackendOf(failed));
        }

        await harness.CircuitSignals.WhenCircuit("cloud-a", CircuitState.Open);
        Assert.Equal(CircuitState.Open, harness.Health.Get("cloud-a").Circuit);

        // Open: the plan leaves the cloud out, nothing is sent to it.
        upstream.Behaviour = UpstreamBehaviour.Normal;
        var (skipped, _) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));
        Assert.Equal("local", RoutingHarness.BackendOf(skipped));
        Assert.Equal(2, upstream.ChatRequests.Count());
        using (var route = await harness.Http.PostAsync("/v1/route", ApiAssert.Json($$"""{"model":"auto","messages":[{"role":"user","content":"{{RoutingHarness.PublicPrompt}}"}]}""")))
        {
            Assert.Contains("\"CircuitOpen\"", await route.Content.ReadAsStringAsync());
        }

        var health = await harness.Http.GetStringAsync("/health");
        Assert.Contains("\"circuit\":\"open\"", health);

        // After the break a prompt-free probe (GET /v1/models) closes it again.
        time.Advance(TimeSpan.FromSeconds(31));
        await harness.CircuitSignals.WhenCircuit("cloud-a", CircuitState.Closed);
        Assert.Contains(upstream.Requests, r => r.Method == "GET" && r.Path == "/v1/models" && r.Body.Length == 0);

        var (back, _) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(back));
        Assert.Equal(3, upstream.ChatRequests.Count());
    }

    [Fact]
    public async Task The_backends_key_from_the_environment_is_sent_never_the_clients()
    {
        var (harness, upstream) = await StartAsync(key: "sk-from-env-123");
        await using var _ = harness;
        await using var __ = upstream;

        var request = RoutingHarness.Chat(RoutingHarness.PublicPrompt, authorization: "Bearer client-secret-xyz");
        request.Headers.Add("Cookie", "session=client-cookie");
        var (response, _) = await harness.SendAsync(request);

        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        var sent = Assert.Single(upstream.ChatRequests);
        Assert.Equal("Bearer sk-from-env-123", sent.Authorization);
        Assert.DoesNotContain(sent.Headers, h => h.Value.Contains("client-secret-xyz", StringComparison.Ordinal) || h.Value.Contains("client-cookie", StringComparison.Ordinal));
        Assert.DoesNotContain(sent.Headers.Keys, k => k.StartsWith("X-InferenceMesh", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain("sk-from-env-123", harness.Logs.All);
    }

    [Fact]
    public async Task Route_dry_run_returns_classification_spans_and_the_plan_without_the_matched_text_or_any_call()
    {
        var recording = await RecordingUpstream.StartAsync();
        var (harness, _) = await StartAsync(upstream: recording);
        await using var _h = harness;
        await using var _r = recording;

        var prompt = "Charge " + RoutingHarness.Card + " today";
        using var response = await harness.Http.PostAsync("/v1/route", ApiAssert.Json($$"""{"model":"auto","messages":[{"role":"user","content":"{{prompt}}"}]}"""));
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.DoesNotContain(RoutingHarness.Card, body);
        Assert.DoesNotContain("4111111111111111", body);
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        var finding = root.GetProperty("classification").GetProperty("findings").EnumerateArray().Single(f => f.GetProperty("kind").GetString() == "PaymentCard");
        Assert.Equal(prompt.IndexOf(RoutingHarness.Card, StringComparison.Ordinal), finding.GetProperty("start").GetInt32());
        Assert.Equal(RoutingHarness.Card.Length, finding.GetProperty("length").GetInt32());
        Assert.NotEqual("public", root.GetProperty("privacy").GetProperty("level").GetString());
        var step = Assert.Single(root.GetProperty("plan").GetProperty("steps").EnumerateArray());
        Assert.Equal("local", step.GetProperty("backend").GetString());
        Assert.True(step.GetProperty("breakdown").GetProperty("weighted").GetDouble() > 0);
        var exclusion = root.GetProperty("plan").GetProperty("exclusions").EnumerateArray().Single(e => e.GetProperty("backend").GetString() == "cloud-a");
        Assert.Equal("PrivacyClass", exclusion.GetProperty("code").GetString());

        // A public prompt: cloud-a first with its score terms, local last.
        using var publicRoute = await harness.Http.PostAsync("/v1/route", ApiAssert.Json($$"""{"model":"auto","messages":[{"role":"user","content":"{{RoutingHarness.PublicPrompt}}"}]}"""));
        using var publicJson = JsonDocument.Parse(await publicRoute.Content.ReadAsStringAsync());
        var steps = publicJson.RootElement.GetProperty("plan").GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("backend").GetString()).ToList();
        Assert.Equal(["cloud-a", "local"], steps);

        Assert.Empty(recording.Requests);
        Assert.Null(harness.Engine.Model.LastRequest);
    }

    [Fact]
    public async Task Prompt_text_never_reaches_logs_or_error_bodies()
    {
        const string canary = "zebra-canary-7731";
        var (harness, upstream) = await StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 1 });
        await using var _ = harness;
        await using var __ = upstream;
        var bodies = new List<string>();

        async Task Send(string prompt, bool stream = false, string model = "auto")
        {
            var (_, body) = await harness.SendAsync(RoutingHarness.Chat(prompt, stream, model));
            bodies.Add(body);
        }

        // Cloud: success, stream, upstream errors echoing the prompt, a cut stream, a malformed one.
        await Send($"Tell me about {canary}");
        await Send($"Tell me about {canary}", stream: true);
        foreach (var behaviour in new[] { UpstreamBehaviour.Status500, UpstreamBehaviour.Status400, UpstreamBehaviour.Status503, UpstreamBehaviour.MalformedSse, UpstreamBehaviour.CloseAfterChunks })
        {
            upstream.Behaviour = behaviour;
            await Send($"Tell me about {canary}", stream: true);
        }

        // Confidential, and the local model refuses it (prompt over the context): a clear 400, nothing sent to the cloud.
        upstream.Behaviour = UpstreamBehaviour.Normal;
        var before = upstream.ChatRequests.Count();
        harness.Engine.Model.OnStart = _ => EngineResult<IGeneration>.Fail(new EngineFailure(EngineError.PromptTooLong, "needs 9000 tokens", Limit: 64));
        var (tooLong, tooLongBody) = await harness.SendAsync(RoutingHarness.Chat($"CONFIDENTIAL {canary} card {RoutingHarness.Card}"));
        await ApiAssert.ErrorAsync(tooLong, HttpStatusCode.BadRequest, code: "context_length_exceeded");
        bodies.Add(tooLongBody);
        await Send($"CONFIDENTIAL {canary}", model: "gpt-4o"); // empty plan: 503
        Assert.Equal(before, upstream.ChatRequests.Count());

        // Invalid JSON carrying the canary.
        using (var bad = await harness.Http.PostAsync("/v1/chat/completions", ApiAssert.Json($$"""{"model":"auto","messages":[{"role":"user","content":"{{canary}}"}], "temperature": "{{canary}}"}""")))
        {
            bodies.Add(await bad.Content.ReadAsStringAsync());
        }

        Assert.NotEmpty(harness.Logs.Entries);
        Assert.DoesNotContain(canary, harness.Logs.All);
        Assert.DoesNotContain(RoutingHarness.Card, harness.Logs.All);
        foreach (var body in bodies.Where(b => b.Contains("\"error\"", StringComparison.Ordinal)))
        {
            Assert.DoesNotContain(canary, body);
            Assert.DoesNotContain("upstream says", body);
        }
    }
}
