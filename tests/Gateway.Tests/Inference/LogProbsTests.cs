using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;
using OpenAI.Chat;

namespace InferenceMesh.Gateway.Tests.Inference;

/// <summary>
/// Log probabilities on the local model: OpenAI's <c>logprobs</c>/<c>top_logprobs</c> (chat) and <c>logprobs</c> (legacy
/// completions), read through the official client where it reads them. Greedy decoding picks the most likely token, so
/// each generated token must be the first of its step's alternatives with the same log probability.
/// </summary>
public sealed class LogProbsTests
{
    private static readonly ChatMessage[] Messages = [new UserChatMessage("Once upon a time")];

    [Fact]
    public async Task Greedy_chat_tokens_carry_their_log_probability_and_the_alternatives_streamed_or_not()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };

        ChatCompletion completion = await chat.CompleteChatAsync(Messages, options);
        var streamed = new List<ChatTokenLogProbabilityDetails>();
        var streamedText = new StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync(Messages, options))
        {
            streamed.AddRange(update.ContentTokenLogProbabilities);
            foreach (var part in update.ContentUpdate)
            {
                streamedText.Append(part.Text);
            }
        }

        var text = completion.Content[0].Text;
        var tokens = completion.ContentTokenLogProbabilities;
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(completion.Usage.OutputTokenCount, tokens.Count);
        Assert.Equal(Encoding.UTF8.GetBytes(text), tokens.SelectMany(t => t.Utf8Bytes!.Value.ToArray()).ToArray());
        foreach (var token in tokens)
        {
            Assert.InRange(token.LogProbability, float.MinValue, 0f);
            Assert.Equal(3, token.TopLogProbabilities.Count);
            Assert.Equal(token.Token, token.TopLogProbabilities[0].Token);
            Assert.Equal(token.LogProbability, token.TopLogProbabilities[0].LogProbability);
            Assert.True(token.TopLogProbabilities.Zip(token.TopLogProbabilities.Skip(1)).All(p => p.First.LogProbability >= p.Second.LogProbability));
            Assert.InRange(token.TopLogProbabilities.Sum(t => Math.Exp(t.LogProbability)), 0, 1.0001);
        }

        Assert.Equal(text, streamedText.ToString());
        Assert.Equal(tokens.Select(t => (t.Token, t.LogProbability)), streamed.Select(t => (t.Token, t.LogProbability)));
    }

    [Fact]
    public async Task Sampled_tokens_are_scored_by_the_model_not_by_the_sampler()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
#pragma warning disable OPENAI001 // Seed is marked experimental in the client
        var options = new ChatCompletionOptions { Temperature = 1.5f, Seed = 11, MaxOutputTokenCount = 40, IncludeLogProbabilities = true, TopLogProbabilityCount = 20 };
#pragma warning restore OPENAI001

        ChatCompletion completion = await chat.CompleteChatAsync(Messages, options);

        var tokens = completion.ContentTokenLogProbabilities;
        Assert.Equal(completion.Usage.OutputTokenCount, tokens.Count);
        // At temperature 1.5 some token is not the model's first choice: its log probability is below the best one.
        Assert.Contains(tokens, t => t.LogProbability < t.TopLogProbabilities[0].LogProbability);
        Assert.All(tokens, t => Assert.True(t.LogProbability <= t.TopLogProbabilities[0].LogProbability));
        Assert.All(tokens, t => Assert.Equal(20, t.TopLogProbabilities.Count));
    }

    [Fact]
    public async Task The_tokens_of_a_stop_string_are_left_out()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var stop = TestPaths.Stories260KGreedyContinuation.Substring(30, 6);
        var body = $$"""{"model":"{{TestEnvironment.Stories}}","prompt":"{{RawCompletions.Prompt}}","temperature":0,"max_tokens":60,"logprobs":0,"stop":{{JsonSerializer.Serialize(stop)}}}""";

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var choice = json.RootElement.GetProperty("choices")[0];
        var text = choice.GetProperty("text").GetString()!;
        var logprobs = choice.GetProperty("logprobs");
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(TestPaths.Stories260KGreedyContinuation[..30], text);
        // The last token may reach into the stop string; none lies wholly inside it.
        var all = string.Concat(tokens);
        Assert.StartsWith(text, all);
        Assert.InRange(all.Length - text.Length, 0, tokens[^1].Length - 1);
        Assert.All(logprobs.GetProperty("top_logprobs").EnumerateArray(), t => Assert.Empty(t.EnumerateObject()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Legacy_completions_report_tokens_offsets_and_alternatives(bool stream)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = $$"""{"model":"{{TestEnvironment.Stories}}","prompt":"{{RawCompletions.Prompt}}","temperature":0,"max_tokens":24,"logprobs":2,"stream":{{(stream ? "true" : "false")}}}""";

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));

        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, raw);
        var choices = stream
            ? Sse.ParseStrict(raw).Select(e => e.GetProperty("choices")).Where(c => c.GetArrayLength() > 0).Select(c => c[0]).ToList()
            : [JsonDocument.Parse(raw).RootElement.GetProperty("choices")[0]];
        var text = string.Concat(choices.Select(c => c.GetProperty("text").GetString()));
        var tokens = new List<string>();
        var offsets = new List<int>();
        foreach (var choice in choices.Where(c => c.GetProperty("logprobs").ValueKind == JsonValueKind.Object))
        {
            var logprobs = choice.GetProperty("logprobs");
            tokens.AddRange(logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!));
            offsets.AddRange(logprobs.GetProperty("text_offset").EnumerateArray().Select(o => o.GetInt32()));
            var best = logprobs.GetProperty("token_logprobs").EnumerateArray().Select(l => l.GetSingle()).ToList();
            var tops = logprobs.GetProperty("top_logprobs").EnumerateArray().ToList();
            Assert.Equal(best.Count, tops.Count);
            for (var i = 0; i < tops.Count; i++)
            {
                var alternatives = tops[i].EnumerateObject().ToList();
                Assert.InRange(alternatives.Count, 1, 2);
                Assert.Equal(best[i], alternatives.Max(a => a.Value.GetSingle()));
            }
        }

        Assert.Equal(24, tokens.Count);
        Assert.Equal(text, string.Concat(tokens));
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation[..20], text);
        var expected = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            Assert.Equal(expected, offsets[i]);
            expected += tokens[i].Length;
        }
    }

    [Fact]
    public async Task Echo_with_max_tokens_0_scores_the_prompt_as_generation_scored_the_same_tokens()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var generated = await CompletionAsync(environment, RawCompletions.Prompt, """ "temperature":0,"max_tokens":12,"logprobs":1 """);
        var text = generated.GetProperty("text").GetString()!;
        var whole = RawCompletions.Prompt + text;

        var scored = await CompletionAsync(environment, whole, """ "echo":true,"max_tokens":0,"logprobs":1 """);

        Assert.Equal(whole, scored.GetProperty("text").GetString());
        Assert.Equal("length", scored.GetProperty("finish_reason").GetString());
        var logprobs = scored.GetProperty("logprobs");
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        var values = logprobs.GetProperty("token_logprobs").EnumerateArray().ToList();
        Assert.Equal(JsonValueKind.Null, values[0].ValueKind); // nothing before the first token scores it
        Assert.Equal(JsonValueKind.Null, logprobs.GetProperty("top_logprobs")[0].ValueKind);
        Assert.EndsWith(whole, string.Concat(tokens));
        var offsets = logprobs.GetProperty("text_offset").EnumerateArray().Select(o => o.GetInt32()).ToList();
        Assert.Equal(whole.Length - tokens[^1].Length, offsets[^1]);
        // The continuation's tokens are scored as they were when they were generated (one decode or many: within float noise).
        var generatedTokens = generated.GetProperty("logprobs").GetProperty("tokens").EnumerateArray().Select(t => t.GetString()).ToList();
        var generatedValues = generated.GetProperty("logprobs").GetProperty("token_logprobs").EnumerateArray().Select(v => v.GetSingle()).ToList();
        Assert.Equal(generatedTokens, tokens.TakeLast(generatedTokens.Count));
        var tail = values.TakeLast(generatedValues.Count).Select(v => v.GetSingle()).ToList();
        Assert.All(generatedValues.Zip(tail), pair => Assert.Equal(pair.First, pair.Second, 0.002f));
    }

    [Fact]
    public async Task A_streamed_echo_sends_the_prompt_scores_with_the_prompt_then_the_generated_tokens()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = $$"""{"model":"{{TestEnvironment.Stories}}","prompt":"{{RawCompletions.Prompt}}","echo":true,"temperature":0,"max_tokens":5,"logprobs":0,"stream":true}""";

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));

        var events = Sse.ParseStrict(await response.Content.ReadAsStringAsync());
        var first = events[0].GetProperty("choices")[0];
        Assert.Equal(RawCompletions.Prompt, first.GetProperty("text").GetString());
        var promptTokens = first.GetProperty("logprobs").GetProperty("tokens").GetArrayLength();
        Assert.InRange(promptTokens, 2, 8);
        var generated = events.Skip(1).Select(e => e.GetProperty("choices")).Where(c => c.GetArrayLength() > 0 && c[0].GetProperty("logprobs").ValueKind == JsonValueKind.Object)
            .Sum(c => c[0].GetProperty("logprobs").GetProperty("tokens").GetArrayLength());
        Assert.Equal(5, generated);
        Assert.StartsWith(RawCompletions.Prompt + TestPaths.Stories260KGreedyContinuation[..8], Sse.Text(events));
    }

    [Fact]
    public async Task Max_tokens_0_reads_only_the_prompt_with_echo_and_is_refused_without()
    {
        await using var environment = await TestEnvironment.StartAsync();

        var echoed = await CompletionAsync(environment, RawCompletions.Prompt, """ "echo":true,"max_tokens":0 """);
        using var refused = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json($$"""{"model":"{{TestEnvironment.Stories}}","prompt":"Once","max_tokens":0}"""));

        Assert.Equal(RawCompletions.Prompt, echoed.GetProperty("text").GetString());
        Assert.Equal(JsonValueKind.Null, echoed.GetProperty("logprobs").ValueKind);
        await ApiAssert.ErrorAsync(refused, HttpStatusCode.BadRequest, param: "max_tokens", code: "invalid_value");
    }

    private static async Task<JsonElement> CompletionAsync(TestEnvironment environment, string prompt, string fields)
    {
        var body = $$"""{"model":"{{TestEnvironment.Stories}}","prompt":{{JsonSerializer.Serialize(prompt)}},{{fields}}}""";
        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));
        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, raw);
        return JsonDocument.Parse(raw).RootElement.GetProperty("choices")[0].Clone();
    }

    [Theory]
    [InlineData("""{"logprobs":true,"top_logprobs":21}""", "top_logprobs")]
    [InlineData("""{"logprobs":true,"top_logprobs":-1}""", "top_logprobs")]
    [InlineData("""{"logprobs":true,"top_logprobs":2.5}""", "top_logprobs")]
    [InlineData("""{"top_logprobs":3}""", "top_logprobs")]
    [InlineData("""{"logprobs":false,"top_logprobs":3}""", "top_logprobs")]
    [InlineData("""{"logprobs":"yes"}""", "logprobs")]
    public async Task A_malformed_request_for_log_probabilities_is_400_naming_the_field(string fields, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await ChatFields.PostAsync(environment, fields);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "invalid_value");
    }

    [Theory]
    [InlineData("6")]
    [InlineData("-1")]
    public async Task Legacy_logprobs_out_of_range_is_400(string count)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = $$"""{"model":"{{TestEnvironment.Stories}}","prompt":"Once","max_tokens":2,"logprobs":{{count}}}""";

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "logprobs", code: "invalid_value");
    }

    [Fact]
    public async Task Without_the_field_no_log_probabilities_are_computed_or_sent()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = """{"model":"stories260K","max_tokens":4,"messages":[{"role":"user","content":"Once"}]}""";

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(body));

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("choices")[0].GetProperty("logprobs").ValueKind);
    }
}
