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
        var body = """{"model":"stories260K","max_tokens":2,"messages":[{"role":"user","content":"Once"}],""" + fields[1..];

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(body));

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
