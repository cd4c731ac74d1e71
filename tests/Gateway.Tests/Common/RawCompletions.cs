using System.Net;
using System.Text.Json;

namespace InferenceMesh.Gateway.Tests.Common;

/// <summary>Raw /v1/completions calls (the official client has no legacy completions).</summary>
internal static class RawCompletions
{
    public const string Prompt = "Once upon a time";

    public sealed record Result(string Text, string? FinishReason, int PromptTokens, int CompletionTokens);

    public static async Task<Result> GreedyAsync(HttpClient http, int maxTokens, bool stream, string model = TestEnvironment.Stories, bool echo = false)
    {
        var body = $$$"""{"model":"{{{model}}}","prompt":"{{{Prompt}}}","echo":{{{(echo ? "true" : "false")}}},"temperature":0,"max_tokens":{{{maxTokens}}},"stream":{{{(stream ? "true" : "false")}}},"stream_options":{"include_usage":true}}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = ApiAssert.Json(body) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        if (stream)
        {
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            var events = Sse.ParseStrict(text);
            var usage = events[^1].GetProperty("usage");
            Assert.Equal(0, events[^1].GetProperty("choices").GetArrayLength());
            return new Result(Sse.Text(events), Sse.FinishReason(events), usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32());
        }

        using var json = JsonDocument.Parse(text);
        var root = json.RootElement;
        Assert.Equal("text_completion", root.GetProperty("object").GetString());
        Assert.StartsWith("cmpl-", root.GetProperty("id").GetString());
        Assert.Equal(model, root.GetProperty("model").GetString());
        var choice = root.GetProperty("choices")[0];
        var u = root.GetProperty("usage");
        Assert.Equal(u.GetProperty("prompt_tokens").GetInt32() + u.GetProperty("completion_tokens").GetInt32(), u.GetProperty("total_tokens").GetInt32());
        return new Result(choice.GetProperty("text").GetString()!, choice.GetProperty("finish_reason").GetString(), u.GetProperty("prompt_tokens").GetInt32(), u.GetProperty("completion_tokens").GetInt32());
    }
}
