using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Apis;

/// <summary>Needs the real engine and catalog: continuous batching seen from HTTP.</summary>
public sealed class ConcurrencyTests
{
    [Fact]
    public async Task Eight_concurrent_greedy_requests_equal_one_alone()
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.Slots = 4);
        var alone = await RawCompletions.GreedyAsync(environment.Http, 48, stream: false);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => RawCompletions.GreedyAsync(environment.Http, 48, stream: i % 2 == 0)));

        Assert.All(results, r => Assert.Equal(alone.Text, r.Text));
        Assert.All(results, r => Assert.Equal(alone.CompletionTokens, r.CompletionTokens));
    }

    [Fact]
    public async Task Burst_of_sixteen_mixed_requests_all_complete_with_well_framed_streams()
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.Slots = 4);
        var reference = await RawCompletions.GreedyAsync(environment.Http, 64, stream: false);

        var tasks = Enumerable.Range(0, 16).Select(async i =>
        {
            var maxTokens = 1 + (i * 63 / 15);
            var stream = i % 2 == 0;
            if (i % 4 == 3)
            {
                return (maxTokens, await ChatAsync(environment.Http, maxTokens, stream));
            }

            var result = await RawCompletions.GreedyAsync(environment.Http, maxTokens, stream);
            Assert.StartsWith(result.Text, reference.Text);
            return (maxTokens, result);
        });

        var results = await Task.WhenAll(tasks);

        Assert.All(results, r =>
        {
            Assert.InRange(r.Item2.CompletionTokens, 1, r.maxTokens);
            Assert.Contains(r.Item2.FinishReason, new[] { "stop", "length" });
        });
    }

    private static async Task<RawCompletions.Result> ChatAsync(HttpClient http, int maxTokens, bool stream)
    {
        var body = $$$"""{"model":"stories260K","messages":[{"role":"user","content":"Tell me a story."}],"max_tokens":{{{maxTokens}}},"stream":{{{(stream ? "true" : "false")}}},"stream_options":{"include_usage":true}}""";
        using var response = await http.PostAsync("/v1/chat/completions", ApiAssert.Json(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        if (stream)
        {
            var events = Sse.ParseStrict(text);
            var usage = events[^1].GetProperty("usage");
            return new(Sse.Text(events), Sse.FinishReason(events), usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32());
        }

        using var json = JsonDocument.Parse(text);
        var choice = json.RootElement.GetProperty("choices")[0];
        var u = json.RootElement.GetProperty("usage");
        return new(choice.GetProperty("message").GetProperty("content").GetString()!, choice.GetProperty("finish_reason").GetString(),
            u.GetProperty("prompt_tokens").GetInt32(), u.GetProperty("completion_tokens").GetInt32());
    }
}
