using System.Net;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Tests.Common;
using OpenAI.Chat;

namespace InferenceMesh.Gateway.Tests.Streaming;

/// <summary>
/// The HTTP layer against a scripted engine (real host, real Kestrel): SSE framing of awkward text,
/// failures after the stream started, overload, load failures, cancellation on disconnect.
/// </summary>
public sealed class ScriptedEngineTests
{
    private static async Task<(TestEnvironment Environment, FakeEngine Engine)> StartAsync()
    {
        var engine = new FakeEngine();
        var environment = await TestEnvironment.StartAsync(e => e.ConfigureBuilder = engine.Register);
        return (environment, engine);
    }

    private static StringContent ChatBody(bool stream, string extra = "") => ApiAssert.Json(
        $$"""{"model":"{{FakeEngine.ModelId}}","messages":[{"role":"user","content":"hi"}],"stream":{{(stream ? "true" : "false")}}{{extra}}}""");

    [Fact]
    public async Task Stream_frames_survive_newlines_and_sse_lookalikes_in_text()
    {
        var (environment, engine) = await StartAsync();
        await using var _ = environment;
        string[] deltas = ["Hello\n", "\n\nworld\r\n", "data: [DONE]\n\n", "é😀\u2028"];
        engine.Model.OnStart = _ => EngineResult<IGeneration>.Ok(new FakeGeneration(deltas, new GenerationOutcome(FinishReason.Length, 5, 4)));

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ChatBody(true, ""","stream_options":{"include_usage":true}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = Sse.ParseStrict(await response.Content.ReadAsStringAsync());
        Assert.Equal("assistant", events[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal(string.Concat(deltas), Sse.Text(events));
        Assert.Equal("length", Sse.FinishReason(events));
        var usage = events[^1];
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(5, usage.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(4, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(9, usage.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.All(events, e => Assert.StartsWith("chatcmpl-", e.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task Failure_after_the_stream_started_ends_with_an_error_event_then_done()
    {
        var (environment, engine) = await StartAsync();
        await using var _ = environment;
        engine.Model.OnStart = _ => EngineResult<IGeneration>.Ok(new FakeGeneration(
            ["a", "b"], new GenerationOutcome(FinishReason.Stop, 3, 2, new EngineFailure(EngineError.DecodeFailed, "llama_decode returned 1"))));

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json($$"""{"model":"{{FakeEngine.ModelId}}","prompt":"x","stream":true}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        ApiAssert.NoLeak(body);
        var events = Sse.ParseStrict(body);
        Assert.Equal("ab", Sse.Text(events));
        Assert.Equal("decode_failed", events[^1].GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Responses_stream_frames_survive_newlines_and_sse_lookalikes_in_text()
    {
        var (environment, engine) = await StartAsync();
        await using var _ = environment;
        string[] deltas = ["Hello\n", "\n\nevent: response.completed\r\n", "data: [DONE]\n\n", "é😀\u2028"];
        engine.Model.OnStart = _ => EngineResult<IGeneration>.Ok(new FakeGeneration(deltas, new GenerationOutcome(FinishReason.Stop, 5, 4)));

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json($$"""{"model":"{{FakeEngine.ModelId}}","input":"x","stream":true}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = Sse.ParseNamed(await response.Content.ReadAsStringAsync());
        Assert.Equal(deltas, events.Where(e => e.GetProperty("type").GetString() == "response.output_text.delta").Select(e => e.GetProperty("delta").GetString()));
        var completed = events[^1];
        Assert.Equal("response.completed", completed.GetProperty("type").GetString());
        Assert.Equal(string.Concat(deltas), completed.GetProperty("response").GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(9, completed.GetProperty("response").GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Responses_failure_after_the_stream_started_is_an_error_event_then_response_failed()
    {
        var (environment, engine) = await StartAsync();
        await using var _ = environment;
        engine.Model.OnStart = _ => EngineResult<IGeneration>.Ok(new FakeGeneration(
            ["a", "b"], new GenerationOutcome(FinishReason.Stop, 3, 2, new EngineFailure(EngineError.DecodeFailed, "llama_decode returned 1"))));

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json($$"""{"model":"{{FakeEngine.ModelId}}","input":"x","stream":true}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        ApiAssert.NoLeak(body);
        var events = Sse.ParseNamed(body);
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.GetProperty("sequence_number").GetInt32()));
        var error = events[^2];
        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal("decode_failed", error.GetProperty("code").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        var failed = events[^1];
        Assert.Equal("response.failed", failed.GetProperty("type").GetString());
        Assert.Equal("failed", failed.GetProperty("response").GetProperty("status").GetString());
        Assert.Equal("decode_failed", failed.GetProperty("response").GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("ab", failed.GetProperty("response").GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());

#pragma warning disable OPENAI001 // the official client's Responses API is experimental
        var updates = new List<OpenAI.Responses.StreamingResponseUpdate>();
        await foreach (var update in environment.OpenAi.GetResponsesClient().CreateResponseStreamingAsync(
            new OpenAI.Responses.CreateResponseOptions(FakeEngine.ModelId, [OpenAI.Responses.ResponseItem.CreateUserMessageItem("x")]) { StreamingEnabled = true }))
        {
            updates.Add(update);
        }

        Assert.Equal("decode_failed", Assert.IsType<OpenAI.Responses.StreamingResponseErrorUpdate>(updates[^2]).Code);
        Assert.Equal(OpenAI.Responses.ResponseStatus.Failed, Assert.IsType<OpenAI.Responses.StreamingResponseFailedUpdate>(updates[^1]).Response.Status);
#pragma warning restore OPENAI001
    }

    [Fact]
    public async Task Overload_is_503_with_retry_after()
    {
        var (environment, engine) = await StartAsync();
        await using var _ = environment;
        engine.Model.OnStart = _ => EngineResult<IGeneration>.Fail(EngineError.Overloaded, "queue full");

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ChatBody(true));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.ServiceUnavailable, code: "overloaded");
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task Model_that_fails_to_load_is_500_with_a_clear_message()
    {
        var (environment, engine) = await StartAsync();
        await using var _ = environment;
        engine.LoadFailure = new EngineFailure(EngineError.ModelLoadFailed, "llama_model_load_from_file returned null");

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ChatBody(false));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.InternalServerError, code: "model_load_failed");
        Assert.Contains("could not be loaded", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Prompt_too_long_names_the_limit()
    {
        var (environment, engine) = await StartAsync();
        await using var _ = environment;
        engine.Model.OnStart = _ => EngineResult<IGeneration>.Fail(EngineError.PromptTooLong, "The prompt has 90 tokens.", limit: 64);

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ChatBody(false));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "messages", code: "context_length_exceeded");
        Assert.Contains("64", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Exception_in_the_engine_is_a_generic_500_without_details()
    {
        var (environment, engine) = await StartAsync();
        await using var _ = environment;
        engine.Model.OnStart = _ => throw new InvalidOperationException("secret prompt text");

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ChatBody(false));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.InternalServerError, code: "internal_error");
        Assert.DoesNotContain("secret", error.GetRawText());
    }

    [Fact]
    public async Task Client_disconnect_cancels_and_disposes_the_generation()
    {
        var (environment, engine) = await StartAsync();
        await using var _ = environment;
        var generation = new FakeGeneration(["first"], new GenerationOutcome(FinishReason.Stop, 1, 1), endless: true);
        engine.Model.OnStart = _ => EngineResult<IGeneration>.Ok(generation);

        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ChatBody(true) })
        using (var response = await environment.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line && !line.Contains("first", StringComparison.Ordinal))
            {
            }
        }

        await generation.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await generation.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Parameters_and_content_parts_reach_the_engine()
    {
        var (environment, engine) = await StartAsync();
        await using var _ = environment;

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json($$"""
            {"model":"{{FakeEngine.ModelId}}","messages":[{"role":"developer","content":"be brief"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
             "temperature":0.5,"top_p":0.9,"max_completion_tokens":7,"stop":["x","y"],"seed":-1,"presence_penalty":0.1,"frequency_penalty":0.2,
             "logit_bias":{"5":-100},"top_k":40,"min_p":0.05,"repeat_penalty":1.1,"n":1,"user":"ignored"}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([new InferenceMesh.Engine.ChatMessage("system", "be brief"), new InferenceMesh.Engine.ChatMessage("user", "a\nb")], engine.Model.LastMessages);
        var request = engine.Model.LastRequest!;
        Assert.Equal(7, request.MaxTokens);
        Assert.Equal(["x", "y"], request.Stop);
        Assert.Equal(0.5f, request.Sampling.Temperature);
        Assert.Equal(0.9f, request.Sampling.TopP);
        Assert.Equal(uint.MaxValue, request.Sampling.Seed);
        Assert.Equal(40, request.Sampling.TopK);
        Assert.Equal(0.05f, request.Sampling.MinP);
        Assert.Equal(1.1f, request.Sampling.RepeatPenalty);
        Assert.Equal(-100f, request.Sampling.LogitBias![5]);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("chat.completion", json.RootElement.GetProperty("object").GetString());
        Assert.Equal("Hello world", json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", json.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(5, json.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Official_client_reads_chat_and_embeddings_in_float_and_base64()
    {
        var (environment, _) = await StartAsync();
        await using var __ = environment;
        var client = environment.OpenAi;

        ChatCompletion chat = await client.GetChatClient(FakeEngine.ModelId).CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("Hello world", chat.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, chat.FinishReason);
        Assert.Equal(5, chat.Usage.TotalTokenCount);

        var embeddings = client.GetEmbeddingClient(FakeEngine.ModelId);
        var base64 = await embeddings.GenerateEmbeddingsAsync(["a", "b"]);
        Assert.Equal(2, base64.Value.Count);
        Assert.Equal([0.6f, 0.8f, 1f], base64.Value[1].ToFloats().ToArray());

        using var response = await environment.Http.PostAsync("/v1/embeddings", ApiAssert.Json($$"""{"model":"{{FakeEngine.ModelId}}","input":"a"}"""));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(JsonValueKind.Array, json.RootElement.GetProperty("data")[0].GetProperty("embedding").ValueKind);
        Assert.Equal(2, json.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }
}
