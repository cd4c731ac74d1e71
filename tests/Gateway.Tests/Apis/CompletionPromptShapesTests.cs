using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Apis;

/// <summary>
/// Every shape of <c>prompt</c> OpenAI accepts on the real engine (stories260K, greedy), as lm-evaluation-harness's
/// <c>local-completions</c> sends them: batches of strings and of token ids, <c>n</c> choices each, streamed and not,
/// <c>echo</c> with <c>logprobs</c> to score them. Raw JSON: the official .NET client has no legacy completions.
/// </summary>
public sealed class CompletionPromptShapesTests
{
    private const string Other = "The little dog";

    [Fact]
    public async Task A_batch_with_n_answers_prompts_times_n_choices_indexed_as_openai_with_the_usage_summed()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var first = await PostAsync(environment, Body(JsonSerializer.Serialize(RawCompletions.Prompt), ""));
        var second = await PostAsync(environment, Body(JsonSerializer.Serialize(Other), ""));

        var batch = await PostAsync(environment, Body(JsonSerializer.Serialize(new[] { RawCompletions.Prompt, Other }), "\"n\":2,"));

        var choices = batch.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal(
            [TextOf(first), TextOf(first), TextOf(second), TextOf(second)],
            choices.Select(c => c.GetProperty("text").GetString()));
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation[..20], TextOf(first));
        var usage = batch.GetProperty("usage");
        Assert.Equal(PromptTokens(first) + PromptTokens(second), usage.GetProperty("prompt_tokens").GetInt32()); // a prompt counts once, whatever n
        Assert.Equal(2 * (CompletionTokens(first) + CompletionTokens(second)), usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task A_streamed_batch_interleaves_chunks_each_naming_its_choice_then_one_usage_and_one_done()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var prompts = JsonSerializer.Serialize(new[] { RawCompletions.Prompt, Other, "Once" });
        var whole = await PostAsync(environment, Body(prompts, "\"n\":2,"));

        using var response = await environment.Http.PostAsync(
            "/v1/completions", ApiAssert.Json(Body(prompts, """ "n":2,"stream":true,"stream_options":{"include_usage":true}, """)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = Sse.ParseStrict(await response.Content.ReadAsStringAsync()); // one [DONE], last
        var chunks = events.Where(e => e.GetProperty("choices").GetArrayLength() > 0).Select(e => e.GetProperty("choices")[0]).ToList();
        Assert.All(events.Where(e => e.GetProperty("choices").GetArrayLength() > 0), e => Assert.Equal(1, e.GetProperty("choices").GetArrayLength()));
        var byIndex = chunks.GroupBy(c => c.GetProperty("index").GetInt32()).OrderBy(g => g.Key).ToList();
        Assert.Equal([0, 1, 2, 3, 4, 5], byIndex.Select(g => g.Key));
        var expected = whole.GetProperty("choices").EnumerateArray().ToList();
        foreach (var group in byIndex)
        {
            Assert.Equal(expected[group.Key].GetProperty("text").GetString(), string.Concat(group.Select(c => c.GetProperty("text").GetString())));
            var finishes = group.Where(c => c.GetProperty("finish_reason").ValueKind == JsonValueKind.String).ToList();
            Assert.Single(finishes);
            Assert.Equal(expected[group.Key].GetProperty("finish_reason").GetString(), finishes[0].GetProperty("finish_reason").GetString());
        }

        var usage = events[^1];
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(whole.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(whole.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task A_batch_larger_than_the_slots_and_their_queue_is_served_not_refused_as_overload()
    {
        // One slot and a queue of 4: seven choices at once would be refused; the batch runs them a slot's worth at a time.
        await using var environment = await TestEnvironment.StartAsync(e => e.Slots = 1);
        var prompts = JsonSerializer.Serialize(Enumerable.Repeat(RawCompletions.Prompt, 7));

        var batch = await PostAsync(environment, Body(prompts, "", maxTokens: 4));

        var texts = batch.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("text").GetString()).ToList();
        Assert.Equal(7, texts.Count);
        Assert.All(texts, t => Assert.Equal(texts[0], t));
        Assert.StartsWith(texts[0]!, TestPaths.Stories260KGreedyContinuation);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Token_prompts_give_the_greedy_text_of_the_same_string_prompts(bool stream)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var once = await ServedModel.PromptTokensAsync(environment, RawCompletions.Prompt);
        var other = await ServedModel.PromptTokensAsync(environment, Other);
        var fromText = await PostAsync(environment, Body(JsonSerializer.Serialize(new[] { RawCompletions.Prompt, Other }), ""));

        var single = await PostAsync(environment, Body(JsonSerializer.Serialize(once), ""));
        var batch = stream
            ? await StreamedAsync(environment, Body(JsonSerializer.Serialize(new[] { once, other }), "\"stream\":true,"))
            : (await PostAsync(environment, Body(JsonSerializer.Serialize(new[] { once, other }), ""))).GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("text").GetString()!).ToList();

        var expected = fromText.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("text").GetString()!).ToList();
        Assert.Equal(expected[0], TextOf(single));
        Assert.Equal(expected, batch);
        Assert.Equal(once.Length, PromptTokens(single));
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation[..20], expected[0]);
    }

    [Fact]
    public async Task The_echoed_prompt_tokens_add_up_to_its_text_with_the_first_word_without_the_sentencepiece_space()
    {
        await using var environment = await TestEnvironment.StartAsync();

        var scored = (await PostAsync(environment, Body(JsonSerializer.Serialize(RawCompletions.Prompt), """ "echo":true,"logprobs":1, """, maxTokens: 0)))
            .GetProperty("choices")[0];

        Assert.Equal(RawCompletions.Prompt, scored.GetProperty("text").GetString());
        var logprobs = scored.GetProperty("logprobs");
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        Assert.Equal(["", "Once", " upon", " a", " time"], tokens); // BOS (no text), then "Once" as OpenAI writes a first token
        Assert.Equal([0, 0, 4, 9, 11], logprobs.GetProperty("text_offset").EnumerateArray().Select(o => o.GetInt32()));
        var values = logprobs.GetProperty("token_logprobs").EnumerateArray().ToList();
        Assert.Equal(JsonValueKind.Null, values[0].ValueKind); // nothing before BOS scores it
        Assert.Equal(values[1].GetSingle(), logprobs.GetProperty("top_logprobs")[1].GetProperty("Once").GetSingle()); // greedy here: its own best alternative, written alike
        Assert.All(values.Skip(1), v => Assert.True(v.GetSingle() < 0));
        Assert.Equal("length", scored.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Echo_with_logprobs_of_a_token_batch_scores_each_prompt_as_its_string_and_generates_nothing_at_max_tokens_0()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var whole = RawCompletions.Prompt + TestPaths.Stories260KGreedyContinuation[..12];
        var ids = await ServedModel.PromptTokensAsync(environment, whole);
        var other = await ServedModel.PromptTokensAsync(environment, Other);
        var fromText = (await PostAsync(environment, Body(JsonSerializer.Serialize(whole), """ "echo":true,"logprobs":1, """, maxTokens: 0))).GetProperty("choices")[0];

        // As lm-evaluation-harness asks for log-likelihoods: token prompts, echo, logprobs 1, no generation.
        var batch = await PostAsync(environment, Body(JsonSerializer.Serialize(new[] { ids, other }), """ "echo":true,"logprobs":1, """, maxTokens: 0));

        var scored = batch.GetProperty("choices")[0];
        Assert.Equal(whole, scored.GetProperty("text").GetString());
        Assert.Equal(Logprobs(fromText, "tokens"), Logprobs(scored, "tokens"));
        Assert.Equal(Logprobs(fromText, "text_offset"), Logprobs(scored, "text_offset"));
        Assert.Equal(ids.Length, scored.GetProperty("logprobs").GetProperty("token_logprobs").GetArrayLength()); // one per prompt token
        var expected = Values(fromText);
        var actual = Values(scored);
        Assert.All(expected.Zip(actual), pair => Assert.Equal(pair.First ?? float.NaN, pair.Second ?? float.NaN, 0.002f));
        Assert.Equal(Other, batch.GetProperty("choices")[1].GetProperty("text").GetString());
        Assert.Equal(other.Length, batch.GetProperty("choices")[1].GetProperty("logprobs").GetProperty("token_logprobs").GetArrayLength());
        Assert.Equal(0, batch.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(ids.Length + other.Length, batch.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task A_token_prompt_without_bos_is_scored_as_given_its_first_token_unscored()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var ids = (await ServedModel.PromptTokensAsync(environment, RawCompletions.Prompt))[1..]; // no BOS: used as given, none added

        var scored = (await PostAsync(environment, Body(JsonSerializer.Serialize(ids), """ "echo":true,"logprobs":0, """, maxTokens: 0))).GetProperty("choices")[0];

        Assert.Equal(RawCompletions.Prompt, scored.GetProperty("text").GetString());
        Assert.Equal(["Once", " upon", " a", " time"], Logprobs(scored, "tokens"));
        var values = Values(scored);
        Assert.Null(values[0]);
        Assert.All(values.Skip(1), v => Assert.NotNull(v));
    }

    [Theory]
    [InlineData("[]", "prompt", "invalid_value")]
    [InlineData("\"\"", "prompt", "invalid_value")]
    [InlineData("[\"Once\",\"\"]", "prompt[1]", "invalid_value")]
    [InlineData("[[]]", "prompt[0]", "invalid_value")]
    [InlineData("[1,2,100000]", "prompt[2]", "invalid_value")]
    [InlineData("[1,-2]", "prompt[1]", "invalid_value")]
    [InlineData("[1,2.5]", "prompt[1]", "invalid_value")]
    [InlineData("[1,\"a\"]", "prompt[1]", "invalid_value")]
    [InlineData("[[1,2],[3,512]]", "prompt[1][1]", "invalid_value")]
    [InlineData("[\"Once\",[1,\"a\"]]", "prompt[1][1]", "invalid_value")]
    [InlineData("[\"Once\",{\"a\":1}]", "prompt[1]", "invalid_value")]
    [InlineData("[[[1]]]", "prompt[0][0]", "invalid_value")]
    [InlineData("{\"text\":\"Once\"}", "prompt", "invalid_value")]
    [InlineData("null", "prompt", "missing_required_parameter")]
    public async Task A_malformed_prompt_is_400_naming_where_it_is(string prompt, string param, string code)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(Body(prompt, "")));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param, code);
    }

    [Theory]
    [InlineData(129, 1, "prompt")]
    [InlineData(1, 129, "n")]
    [InlineData(2, 65, "n")]
    [InlineData(1, 0, "n")]
    public async Task Too_many_choices_are_400(int prompts, int n, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = Body(JsonSerializer.Serialize(Enumerable.Repeat("Once", prompts)), $"\"n\":{n},");

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param, "invalid_value");
    }

    [Fact]
    public async Task Too_many_prompt_tokens_over_the_batch_are_400_before_anything_is_generated()
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.ContextLength = 4096);
        var prompt = Enumerable.Repeat(5, 4095).ToArray(); // each fits a slot; 65 of them are more than 262144 tokens
        var body = Body(JsonSerializer.Serialize(Enumerable.Repeat(prompt, 65)), "");

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "prompt", "invalid_value");
        Assert.Contains("262144", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_prompt_of_a_batch_over_the_context_is_400_naming_it_before_any_stream_starts(bool stream)
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.ContextLength = 32);
        var prompts = new object[] { "Once", string.Concat(Enumerable.Repeat("Once upon a time there was a cat. ", 20)) };

        using var response = await environment.Http.PostAsync(
            "/v1/completions", ApiAssert.Json(Body(JsonSerializer.Serialize(prompts), stream ? "\"stream\":true," : "")));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "prompt[1]", "context_length_exceeded");
        Assert.DoesNotContain("cat", error.GetProperty("message").GetString());
    }

    private static string Body(string prompt, string fields, int maxTokens = 12) =>
        $$"""{"model":"{{TestEnvironment.Stories}}","prompt":{{prompt}},{{fields}}"temperature":0,"max_tokens":{{maxTokens}}}""";

    private static async Task<JsonElement> PostAsync(TestEnvironment environment, string body)
    {
        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));
        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, raw);
        return JsonDocument.Parse(raw).RootElement.Clone();
    }

    /// <summary>Each choice's streamed text, by index.</summary>
    private static async Task<List<string>> StreamedAsync(TestEnvironment environment, string body)
    {
        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));
        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, raw);
        return [.. Sse.ParseStrict(raw).Select(e => e.GetProperty("choices")).Where(c => c.GetArrayLength() > 0).Select(c => c[0])
            .GroupBy(c => c.GetProperty("index").GetInt32()).OrderBy(g => g.Key)
            .Select(g => string.Concat(g.Select(c => c.GetProperty("text").GetString())))];
    }

    private static string TextOf(JsonElement completion) => completion.GetProperty("choices")[0].GetProperty("text").GetString()!;

    private static int PromptTokens(JsonElement completion) => completion.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();

    private static int CompletionTokens(JsonElement completion) => completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32();

    private static List<string> Logprobs(JsonElement choice, string field) =>
        [.. choice.GetProperty("logprobs").GetProperty(field).EnumerateArray().Select(e => e.ToString())];

    private static List<float?> Values(JsonElement choice) =>
        [.. choice.GetProperty("logprobs").GetProperty("token_logprobs").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? (float?)null : v.GetSingle())];
}
