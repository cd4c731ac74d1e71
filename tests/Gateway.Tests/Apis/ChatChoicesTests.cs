using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using OpenAI.Chat;

namespace InferenceMesh.Gateway.Tests.Apis;

/// <summary>
/// <c>n</c> choices of one chat prompt on the real engine (stories260K). Raw JSON: the official .NET client (2.10.0) keeps
/// <c>n</c> internal and reads only the first choice; it gives the n=1 answer to compare with.
/// </summary>
public sealed class ChatChoicesTests
{
    private const string Prompt = "Tell me a story.";

    private static string Body(string fields, int maxTokens = 24) =>
        $$"""{"model":"{{TestEnvironment.Stories}}","messages":[{"role":"user","content":"{{Prompt}}"}],"max_tokens":{{maxTokens}},{{fields}}}""";

    private static async Task<JsonElement> PostAsync(TestEnvironment environment, string body)
    {
        using var response = await environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        return json.RootElement.Clone();
    }

    private static List<string> Texts(JsonElement completion) =>
        [.. completion.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("message").GetProperty("content").GetString()!)];

    private static int Usage(JsonElement completion, string field) => completion.GetProperty("usage").GetProperty(field).GetInt32();

    [Fact]
    public async Task Three_seeded_choices_differ_repeat_and_count_the_prompt_once_and_every_completion_token()
    {
        await using var environment = await TestEnvironment.StartAsync();
        const string fields = "\"temperature\":1,\"seed\":11,\"n\":3,\"logprobs\":true";

        var first = await PostAsync(environment, Body(fields));
        var again = await PostAsync(environment, Body(fields));

        var choices = first.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.All(choices, c => Assert.Contains(c.GetProperty("finish_reason").GetString(), new[] { "stop", "length" }));
        var texts = Texts(first);
        Assert.Equal(texts, Texts(again));
        Assert.Equal(3, texts.Distinct().Count());

        // The prompt counts once (as for n=1); the completion tokens are every choice's (one log probability each).
        var single = await PostAsync(environment, Body("\"temperature\":1,\"seed\":11"));
        Assert.Equal(Usage(single, "prompt_tokens"), Usage(first, "prompt_tokens"));
        Assert.Equal(choices.Sum(c => c.GetProperty("logprobs").GetProperty("content").GetArrayLength()), Usage(first, "completion_tokens"));
        Assert.Equal(Usage(first, "prompt_tokens") + Usage(first, "completion_tokens"), Usage(first, "total_tokens"));
    }

    [Fact]
    public async Task At_temperature_0_every_choice_is_the_greedy_answer_of_n_1()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        ChatCompletion single = await chat.CompleteChatAsync([new UserChatMessage(Prompt)], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 });

        var three = await PostAsync(environment, Body("\"temperature\":0,\"n\":3"));

        Assert.Equal([single.Content[0].Text, single.Content[0].Text, single.Content[0].Text], Texts(three));
        Assert.Equal(3 * single.Usage.OutputTokenCount, Usage(three, "completion_tokens"));
        Assert.Equal(single.Usage.InputTokenCount, Usage(three, "prompt_tokens"));
    }

    [Fact]
    public async Task A_stream_interleaves_chunks_naming_their_choice_each_with_its_role_and_finish_then_one_usage_and_one_done()
    {
        await using var environment = await TestEnvironment.StartAsync(env => env.Slots = 2); // the third choice waits for a slot
        const string fields = "\"temperature\":1,\"seed\":5,\"n\":3";
        var whole = await PostAsync(environment, Body(fields));

        using var response = await environment.Http.PostAsync(
            "/v1/chat/completions", ApiAssert.Json(Body(fields + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = Sse.ParseStrict(await response.Content.ReadAsStringAsync()); // one [DONE], last
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
        Assert.Single(events.Select(e => e.GetProperty("id").GetString()).Distinct());
        var withChoice = events.Where(e => e.GetProperty("choices").GetArrayLength() > 0).ToList();
        Assert.All(withChoice, e => Assert.Equal(1, e.GetProperty("choices").GetArrayLength()));
        var byIndex = withChoice.Select(e => e.GetProperty("choices")[0]).GroupBy(c => c.GetProperty("index").GetInt32()).OrderBy(g => g.Key).ToList();
        Assert.Equal([0, 1, 2], byIndex.Select(g => g.Key));
        var expected = whole.GetProperty("choices").EnumerateArray().ToList();
        foreach (var group in byIndex)
        {
            var chunks = group.ToList();
            Assert.Equal("assistant", chunks[0].GetProperty("delta").GetProperty("role").GetString());
            var text = string.Concat(chunks.Select(c => c.GetProperty("delta").TryGetProperty("content", out var content) ? content.GetString() : null));
            Assert.Equal(expected[group.Key].GetProperty("message").GetProperty("content").GetString(), text);
            var finishes = chunks.Where(c => c.GetProperty("finish_reason").ValueKind == JsonValueKind.String).ToList();
            Assert.Single(finishes);
            Assert.Equal(JsonValueKind.String, chunks[^1].GetProperty("finish_reason").ValueKind); // its finish is its last chunk
            Assert.Equal(expected[group.Key].GetProperty("finish_reason").GetString(), finishes[0].GetProperty("finish_reason").GetString());
        }

        var usage = Assert.Single(events, e => e.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object);
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(usage.ToString(), events[^1].ToString()); // after every choice's chunks, just before [DONE]
        Assert.Equal(whole.GetProperty("usage").ToString(), usage.GetProperty("usage").ToString());
    }

    [Fact]
    public async Task Each_choice_keeps_the_json_response_format_and_has_its_own_log_probabilities()
    {
        await using var environment = await TestEnvironment.StartAsync();

        var answer = await PostAsync(environment, Body(
            """ "temperature":1,"seed":3,"n":2,"logprobs":true,"response_format":{"type":"json_schema","json_schema":{"name":"pet","strict":true,"schema":{"type":"object","properties":{"name":{"type":"string","maxLength":12}},"required":["name"],"additionalProperties":false}}} """,
            maxTokens: 40));

        var choices = answer.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal(2, choices.Count);
        foreach (var choice in choices)
        {
            var content = choice.GetProperty("message").GetProperty("content").GetString()!;
            if (choice.GetProperty("finish_reason").GetString() == "stop")
            {
                using var json = JsonDocument.Parse(content); // whole JSON of the schema's shape
                Assert.Equal(JsonValueKind.String, json.RootElement.GetProperty("name").ValueKind);
            }

            var tokens = choice.GetProperty("logprobs").GetProperty("content").EnumerateArray().Select(t => t.GetProperty("token").GetString()).ToList();
            Assert.Equal(content, string.Concat(tokens));
        }
    }

    [Fact]
    public async Task Stop_strings_never_cut_a_choices_tool_call_streamed_or_not()
    {
        await using var environment = await TestEnvironment.StartAsync();
        // The forced call's JSON holds every one of these stop strings; they apply to an answer's text only.
        const string fields = """
            "temperature":0,"n":2,"parallel_tool_calls":false,"stop":["\"","{","city","name"],
            "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":12}},"required":["city"],"additionalProperties":false}}}],
            "tool_choice":{"type":"function","function":{"name":"get_weather"}}
            """;

        var whole = await PostAsync(environment, Body(fields, maxTokens: 300));
        using var response = await environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(Body(fields + ",\"stream\":true", maxTokens: 300)));

        var choices = whole.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal(2, choices.Count);
        foreach (var choice in choices)
        {
            Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
            var call = Assert.Single(choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray());
            Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
            using var arguments = JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!);
            Assert.Equal(JsonValueKind.String, arguments.RootElement.GetProperty("city").ValueKind);
        }

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var streamed = Sse.ParseStrict(await response.Content.ReadAsStringAsync())
            .Where(e => e.GetProperty("choices").GetArrayLength() > 0).Select(e => e.GetProperty("choices")[0]).ToList();
        foreach (var index in new[] { 0, 1 })
        {
            var chunks = streamed.Where(c => c.GetProperty("index").GetInt32() == index).ToList();
            Assert.Equal("tool_calls", chunks[^1].GetProperty("finish_reason").GetString());
            var argumentText = string.Concat(chunks
                .Where(c => c.GetProperty("delta").TryGetProperty("tool_calls", out _))
                .Select(c => c.GetProperty("delta").GetProperty("tool_calls")[0].GetProperty("function").TryGetProperty("arguments", out var a) ? a.GetString() : null));
            Assert.Equal(choices[index].GetProperty("message").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString(), argumentText);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    public async Task N_outside_1_to_16_is_a_400_naming_n_and_nothing_runs(int n)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(Body($"\"n\":{n}")));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "n", code: "invalid_value");
        Assert.Contains("16", error.GetProperty("message").GetString());
        Assert.Equal("none", response.Headers.GetValues("X-InferenceMesh-Backend").Single());
    }
}
