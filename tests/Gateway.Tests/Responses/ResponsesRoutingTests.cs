using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Gateway.Tests.Routing;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // the official client marks its Responses API experimental

namespace InferenceMesh.Gateway.Tests.Responses;

/// <summary>
/// POST /v1/responses through the router, as chat completions go: a recording loopback stand-in for a cloud that is the
/// best-scoring backend for public prompts, and the scripted local engine. A confidential request reaches no upstream
/// (streamed or not, with the privacy header asking for public, when the local model fails), nor the logs or error bodies;
/// a public one is answered by the cloud stand-in, in the Responses shape, through the official client.
/// </summary>
public sealed class ResponsesRoutingTests : IAsyncLifetime
{
    private RecordingUpstream _cloud = null!;
    private RoutingHarness _harness = null!;

    public async Task InitializeAsync()
    {
        _cloud = await RecordingUpstream.StartAsync();
        _harness = new RoutingHarness();
        _harness.Clouds.Add(("cloud-a", _cloud, 0.95, "sk-cloud-a-test"));
        await _harness.StartAsync();
        _harness.Engine.Model.OnStart = HelloWorld;
    }

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        await _cloud.DisposeAsync();
    }

    [Fact]
    public async Task A_confidential_response_request_reaches_no_upstream_not_even_when_the_local_model_fails()
    {
        const string secret = RoutingHarness.Card;
        var input = $"My card is {secret}, why was it declined?";

        foreach (var stream in new[] { false, true })
        {
            foreach (var privacy in new[] { null, "public" })
            {
                // The secret in the input string, in an item and in the instructions.
                foreach (var body in Bodies(input, stream))
                {
                    var (response, text) = await SendAsync(body, privacy);
                    var context = $"stream {stream}, header {privacy ?? "none"}: {text}";
                    Assert.True(response.StatusCode == HttpStatusCode.OK, context);
                    Assert.Equal("local", RoutingHarness.BackendOf(response));
                    Assert.NotEqual("public", response.Headers.GetValues("X-InferenceMesh-Privacy").Single());
                    Assert.Equal("Hello world", stream ? StreamedText(text) : OutputText(text));
                }
            }
        }

        var failures = new (EngineFailure Failure, HttpStatusCode Status, string Code)[]
        {
            (new EngineFailure(EngineError.Overloaded, "busy"), HttpStatusCode.ServiceUnavailable, "overloaded"),
            (new EngineFailure(EngineError.PromptTooLong, "needs 9000 tokens", Limit: 64), HttpStatusCode.BadRequest, "context_length_exceeded"),
        };
        foreach (var (failure, status, code) in failures)
        {
            _harness.Engine.Model.OnStart = _ => EngineResult<IGeneration>.Fail(failure);
            foreach (var stream in new[] { false, true })
            {
                foreach (var privacy in new[] { null, "public" })
                {
                    var (failed, failedBody) = await SendAsync(Bodies(input, stream)[0], privacy);
                    var error = await ApiAssert.ErrorAsync(failed, status, code: code);
                    Assert.Equal("local", RoutingHarness.BackendOf(failed));
                    Assert.DoesNotContain(secret, failedBody);
                    if (code == "context_length_exceeded")
                    {
                        Assert.Equal("input", error.GetProperty("param").GetString()); // chat's "messages", named as the Responses field
                    }
                }
            }
        }

        Assert.Empty(_cloud.Requests); // not a chat, not a probe, not a byte
        Assert.DoesNotContain(secret, _harness.Logs.All);
    }

    [Fact]
    public async Task A_public_response_request_is_answered_by_the_cloud_the_policy_prefers_through_the_official_client()
    {
        var client = _harness.Gateway.OpenAi.GetResponsesClient();
        var options = new CreateResponseOptions("auto", [ResponseItem.CreateUserMessageItem(RoutingHarness.PublicPrompt)])
        {
            Instructions = "Answer briefly.", MaxOutputTokenCount = 50, Temperature = 0.5f,
        };

        ResponseResult response = await client.CreateResponseAsync(options);

        Assert.Equal("from the cloud", response.GetOutputText());
        Assert.Equal(ResponseStatus.Completed, response.Status);
        Assert.StartsWith("resp_", response.Id);
        Assert.Equal(5, response.Usage.InputTokenCount);
        Assert.Equal(3, response.Usage.OutputTokenCount);
        Assert.Equal(50, response.MaxOutputTokenCount);

        // The cloud got a chat request: the instructions as the system message, the Responses limit as chat's.
        var sent = JsonDocument.Parse(Assert.Single(_cloud.ChatRequests).Body).RootElement;
        Assert.Equal("system", sent.GetProperty("messages")[0].GetProperty("role").GetString());
        Assert.Equal("Answer briefly.", sent.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal(RoutingHarness.PublicPrompt, sent.GetProperty("messages")[1].GetProperty("content").GetString());
        Assert.Equal(50, sent.GetProperty("max_completion_tokens").GetInt32());
        Assert.False(sent.TryGetProperty("input", out _));
        Assert.False(sent.TryGetProperty("max_output_tokens", out _));

        // Streamed: the cloud's chunks as Responses events, in sequence, ending with response.completed.
        options.StreamingEnabled = true;
        var text = new StringBuilder();
        var sequence = new List<int>();
        ResponseResult? final = null;
        await foreach (var update in client.CreateResponseStreamingAsync(options))
        {
            sequence.Add(update.SequenceNumber);
            if (update is StreamingResponseOutputTextDeltaUpdate delta) text.Append(delta.Delta);
            if (update is StreamingResponseCompletedUpdate completed) final = completed.Response;
        }

        Assert.Equal("c0 c1 c2 ", text.ToString());
        Assert.NotNull(final);
        Assert.Equal("c0 c1 c2 ", final.GetOutputText());
        Assert.Equal(Enumerable.Range(0, sequence.Count), sequence);
        var streamed = JsonDocument.Parse(_cloud.ChatRequests.Last().Body).RootElement;
        Assert.True(streamed.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
    }

    [Fact]
    public async Task Reasoning_effort_and_verbosity_reach_an_openai_upstream_under_chats_names_and_never_the_local_model()
    {
        var client = _harness.Gateway.OpenAi.GetResponsesClient();
        var options = new CreateResponseOptions("auto", [ResponseItem.CreateUserMessageItem(RoutingHarness.PublicPrompt)])
        {
            ReasoningOptions = new ResponseReasoningOptions
            {
                ReasoningEffortLevel = ResponseReasoningEffortLevel.High, ReasoningSummaryVerbosity = ResponseReasoningSummaryVerbosity.Detailed,
            },
        };

        ResponseResult answered = await client.CreateResponseAsync(options);

        Assert.Equal("from the cloud", answered.GetOutputText());
        Assert.Equal(ResponseReasoningEffortLevel.High, answered.ReasoningOptions.ReasoningEffortLevel); // the upstream was asked for it
        Assert.Equal(ResponseReasoningSummaryVerbosity.Detailed, answered.ReasoningOptions.ReasoningSummaryVerbosity);
        var sent = JsonDocument.Parse(Assert.Single(_cloud.ChatRequests).Body).RootElement;
        Assert.Equal("high", sent.GetProperty("reasoning_effort").GetString());
        Assert.False(sent.TryGetProperty("reasoning", out _));
        Assert.False(sent.TryGetProperty("verbosity", out _)); // not asked for: not sent

        // Streamed, with text.verbosity (which the client cannot express): chat's "verbosity", and the echo in response.created.
        var streamedBody = Body(JsonSerializer.Serialize(RoutingHarness.PublicPrompt), stream: true, ""","reasoning":{"effort":"minimal"},"text":{"verbosity":"low"},"truncation":"auto" """);
        var (streamed, streamedText) = await SendAsync(streamedBody, privacy: null);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(streamed));
        var events = Sse.ParseNamed(streamedText);
        var created = events[0].GetProperty("response");
        Assert.Equal("""{"effort":"minimal","summary":null}""", created.GetProperty("reasoning").GetRawText());
        Assert.Equal("low", created.GetProperty("text").GetProperty("verbosity").GetString());
        Assert.Equal("auto", events[^1].GetProperty("response").GetProperty("truncation").GetString());
        var streamedSent = JsonDocument.Parse(_cloud.ChatRequests.Last().Body).RootElement;
        Assert.Equal(("minimal", "low"), (streamedSent.GetProperty("reasoning_effort").GetString(), streamedSent.GetProperty("verbosity").GetString()));
        Assert.False(streamedSent.TryGetProperty("truncation", out _)); // no chat field: the local model is where it applies

        // The same settings on a confidential request: answered locally, which does not reason, and the echo says so.
        var (local, localText) = await SendAsync(Body(JsonSerializer.Serialize($"My card is {RoutingHarness.Card}."), stream: false, ""","reasoning":{"effort":"high"},"text":{"verbosity":"high"} """), privacy: null);
        Assert.Equal("local", RoutingHarness.BackendOf(local));
        using var localJson = JsonDocument.Parse(localText);
        Assert.Equal("""{"effort":null,"summary":null}""", localJson.RootElement.GetProperty("reasoning").GetRawText());
        Assert.Equal(2, _cloud.ChatRequests.Count());
    }

    [Fact]
    public async Task An_upstream_refusing_reasoning_effort_is_a_clear_400_from_that_backend_not_a_silent_answer_without_it()
    {
        _cloud.Behaviour = UpstreamBehaviour.Status400;
        var (response, body) = await SendAsync(Body(JsonSerializer.Serialize(RoutingHarness.PublicPrompt), stream: false, ""","reasoning":{"effort":"high"} """), privacy: null);

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, code: "upstream_rejected");
        Assert.Contains("cloud-a", error.GetProperty("message").GetString());
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.DoesNotContain(RoutingHarness.PublicPrompt, body);
        Assert.Equal("high", JsonDocument.Parse(Assert.Single(_cloud.ChatRequests).Body).RootElement.GetProperty("reasoning_effort").GetString());
    }

    [Fact]
    public async Task The_backend_header_names_the_cloud_and_a_broken_cloud_stream_is_finished_by_the_local_model()
    {
        var (answered, _) = await SendAsync(Body(JsonSerializer.Serialize(RoutingHarness.PublicPrompt), stream: false), privacy: null);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(answered));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = ApiAssert.Json(Body(JsonSerializer.Serialize(RoutingHarness.PublicPrompt), stream: true)) };
        var (response, body) = await _cloud.ReadStreamBrokenAfterTwoChunksAsync(_harness.Http, request);
        using var _ = response;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        var events = Sse.ParseNamed(body);
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.GetProperty("sequence_number").GetInt32()));
        Assert.Equal("response.completed", events[^1].GetProperty("type").GetString());
        Assert.Equal("c0 c1 Hello world", events[^1].GetProperty("response").GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("c0 c1 Hello world", StreamedText(body));
    }

    [Fact]
    public async Task An_upstream_error_status_reaches_the_client_in_openai_shape_without_the_request_text()
    {
        _cloud.Behaviour = UpstreamBehaviour.Status400; // its body echoes the request
        var (response, body) = await SendAsync(Body(JsonSerializer.Serialize(RoutingHarness.PublicPrompt), stream: false), privacy: null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain(RoutingHarness.PublicPrompt, body);
        using var json = JsonDocument.Parse(body);
        Assert.True(json.RootElement.GetProperty("error").TryGetProperty("message", out _));
    }

    [Fact]
    public async Task A_confidential_turn_keeps_the_rest_of_its_chain_local()
    {
        // Turn 1 is confidential by the caller's word only (the classifier finds nothing): the stored level must carry it.
        var (first, firstBody) = await SendAsync(Body(JsonSerializer.Serialize("Draft the reorg note."), stream: false), privacy: "confidential");
        Assert.Equal("local", RoutingHarness.BackendOf(first));
        var firstId = JsonDocument.Parse(firstBody).RootElement.GetProperty("id").GetString();

        // Turn 2, a public question without the header, names turn 1: still local, streamed or not, and then turn 3 too.
        var previous = firstId;
        foreach (var stream in new[] { false, true, false })
        {
            var (next, nextBody) = await SendAsync(Body(JsonSerializer.Serialize(RoutingHarness.PublicPrompt), stream, $$""","previous_response_id":"{{previous}}" """), privacy: null);
            Assert.True(next.StatusCode == HttpStatusCode.OK, nextBody);
            Assert.Equal("local", RoutingHarness.BackendOf(next));
            Assert.Equal("confidential", next.Headers.GetValues("X-InferenceMesh-Privacy").Single());
            previous = stream
                ? Sse.ParseNamed(nextBody)[^1].GetProperty("response").GetProperty("id").GetString()
                : JsonDocument.Parse(nextBody).RootElement.GetProperty("id").GetString();
        }

        // A chain whose first turn holds a card number: the classifier sees the prepended history.
        var (card, cardBody) = await SendAsync(Body(JsonSerializer.Serialize($"My card is {RoutingHarness.Card}."), stream: false), privacy: null);
        Assert.Equal("local", RoutingHarness.BackendOf(card));
        var (after, _) = await SendAsync(
            Body(JsonSerializer.Serialize(RoutingHarness.PublicPrompt), stream: false, $$""","previous_response_id":"{{JsonDocument.Parse(cardBody).RootElement.GetProperty("id").GetString()}}" """),
            privacy: "public");
        Assert.Equal("local", RoutingHarness.BackendOf(after));

        Assert.Empty(_cloud.Requests);
        Assert.DoesNotContain(RoutingHarness.Card, _harness.Logs.All);
    }

    [Fact]
    public async Task A_public_chain_sends_the_cloud_the_earlier_turns_before_the_new_input()
    {
        var (first, firstBody) = await SendAsync(Body(JsonSerializer.Serialize(RoutingHarness.PublicPrompt), stream: false), privacy: null);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(first));
        var firstId = JsonDocument.Parse(firstBody).RootElement.GetProperty("id").GetString();

        var (next, _) = await SendAsync(Body("\"And of Spain?\"", stream: false, $$""","previous_response_id":"{{firstId}}","instructions":"Be brief." """), privacy: null);

        Assert.Equal("cloud-a", RoutingHarness.BackendOf(next));
        var messages = JsonDocument.Parse(_cloud.ChatRequests.Last().Body).RootElement.GetProperty("messages").EnumerateArray()
            .Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").GetString())).ToArray();
        Assert.Equal<(string?, string?)>(
            [("system", "Be brief."), ("user", RoutingHarness.PublicPrompt), ("assistant", "from the cloud"), ("user", "And of Spain?")], messages);
    }

    private static EngineResult<IGeneration> HelloWorld(GenerationRequest request) =>
        EngineResult<IGeneration>.Ok(new FakeGeneration(["Hello", " world"], new GenerationOutcome(FinishReason.Stop, 3, 2)));

    private static string[] Bodies(string secret, bool stream)
    {
        var quoted = JsonSerializer.Serialize(secret);
        return
        [
            Body(quoted, stream),
            Body($$"""[{"type":"message","role":"user","content":[{"type":"input_text","text":{{quoted}}}]}]""", stream),
            Body("\"Summarise.\"", stream, $$""","instructions":{{quoted}}"""),
        ];
    }

    private static string Body(string input, bool stream, string extra = "") =>
        $$"""{"model":"auto","input":{{input}},"stream":{{(stream ? "true" : "false")}}{{extra}}}""";

    private async Task<(HttpResponseMessage Response, string Body)> SendAsync(string body, string? privacy)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = ApiAssert.Json(body) };
        if (privacy is not null) request.Headers.Add("X-InferenceMesh-Privacy", privacy);
        return await _harness.SendAsync(request);
    }

    private static string? OutputText(string body)
    {
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString();
    }

    private static string StreamedText(string body) => string.Concat(Sse.ParseNamed(body)
        .Where(e => e.GetProperty("type").GetString() == "response.output_text.delta")
        .Select(e => e.GetProperty("delta").GetString()));
}
