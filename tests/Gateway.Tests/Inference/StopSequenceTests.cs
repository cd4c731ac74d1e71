using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Inference;

/// <summary>
/// Up to 16 stop strings on the local engine (stories260K, greedy), as lm-evaluation-harness sends its <c>until</c> list;
/// OpenAI's limit of 4 is kept for what is forwarded (<c>Routing/StopSequenceRoutingTests</c>).
/// </summary>
public sealed class StopSequenceTests
{
    /// <summary>Fifteen strings the greedy continuation never holds, then " girl" (in it: ", there was a little girl …").</summary>
    private static readonly string[] Sixteen = [.. Enumerable.Range(1, 15).Select(i => $"<never {i}>"), " girl"];

    [Theory]
    [InlineData("/v1/completions")]
    [InlineData("/v1/chat/completions")]
    public async Task The_sixteenth_stop_string_ends_the_answer_before_it(string path)
    {
        await using var environment = await TestEnvironment.StartAsync();
        object body = path == "/v1/completions"
            ? new { model = TestEnvironment.Stories, prompt = RawCompletions.Prompt, temperature = 0, max_tokens = 40, stop = Sixteen }
            : new { model = TestEnvironment.Stories, messages = new[] { new { role = "user", content = RawCompletions.Prompt } }, temperature = 0, max_tokens = 40, stop = Sixteen };

        using var response = await environment.Http.PostAsync(path, ApiAssert.Json(JsonSerializer.Serialize(body)));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var choice = JsonDocument.Parse(text).RootElement.GetProperty("choices")[0];
        var answer = choice.TryGetProperty("text", out var completion) ? completion.GetString() : choice.GetProperty("message").GetProperty("content").GetString();
        Assert.Equal(TestPaths.Stories260KGreedyContinuation[..TestPaths.Stories260KGreedyContinuation.IndexOf(" girl", StringComparison.Ordinal)], answer);
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
    }

    [Theory]
    [InlineData(17, 1, "stop")]
    [InlineData(1, 513, "stop")]
    [InlineData(2, 513, "stop[1]")]
    public async Task More_than_sixteen_or_a_string_longer_than_512_characters_is_a_400_naming_it(int count, int length, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var stops = Enumerable.Range(0, count).Select(i => i == count - 1 ? new string('x', length) : $"s{i}").ToArray();
        object stop = count == 1 ? stops[0] : stops;

        using var response = await environment.Http.PostAsync("/v1/completions",
            ApiAssert.Json(JsonSerializer.Serialize(new { model = TestEnvironment.Stories, prompt = RawCompletions.Prompt, max_tokens = 4, stop })));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param, "invalid_value");
    }
}
