using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Apis;

/// <summary>Needs the real engine and catalog: greedy stories260K through /v1/completions.</summary>
public sealed class CompletionsTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Greedy_completion_of_stories260K_matches_the_reference(bool stream)
    {
        await using var environment = await TestEnvironment.StartAsync();

        var result = await RawCompletions.GreedyAsync(environment.Http, maxTokens: 64, stream);

        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation, result.Text);
        Assert.Contains(result.FinishReason, new[] { "stop", "length" });
        Assert.True(result.PromptTokens > 0);
        Assert.InRange(result.CompletionTokens, 1, 64);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Echo_puts_the_prompt_before_the_completion(bool stream)
    {
        await using var environment = await TestEnvironment.StartAsync();

        var result = await RawCompletions.GreedyAsync(environment.Http, maxTokens: 16, stream, echo: true);

        Assert.StartsWith(RawCompletions.Prompt + TestPaths.Stories260KGreedyContinuation[..20], result.Text);
        Assert.InRange(result.CompletionTokens, 1, 16); // the echoed prompt is not completion tokens
    }

    [Theory]
    [InlineData("""{"best_of":2}""", "best_of")]
    [InlineData("""{"suffix":" The end."}""", "suffix")]
    public async Task A_field_the_local_model_cannot_honour_is_400_naming_it(string fields, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = $$"""{"model":"{{TestEnvironment.Stories}}","prompt":"{{RawCompletions.Prompt}}","max_tokens":2,""" + fields[1..];

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));

        await ApiAssert.ErrorAsync(response, System.Net.HttpStatusCode.BadRequest, param: param, code: "unsupported_parameter");
    }

    [Fact]
    public async Task A_request_without_a_model_is_400_from_no_backend()
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json($$"""{"prompt":"{{RawCompletions.Prompt}}"}"""));

        await ApiAssert.ErrorAsync(response, System.Net.HttpStatusCode.BadRequest, param: "model", code: "missing_required_parameter");
        Assert.Equal("none", response.Headers.GetValues("X-InferenceMesh-Backend").Single());
    }

    [Fact]
    public async Task Neutral_values_of_those_fields_are_served()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = $$"""{"model":"{{TestEnvironment.Stories}}","prompt":"{{RawCompletions.Prompt}}","max_tokens":2,"best_of":1,"logprobs":null,"suffix":"","echo":false}""";

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    // 0 is in top_p's documented range (0..1) but the engine's sampler refused it: a 400 from the local model only.
    [Theory]
    [InlineData("0")]
    [InlineData("1e-300")]
    public async Task Top_p_of_zero_keeps_only_the_most_likely_token(string topP)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = $$"""{"model":"{{TestEnvironment.Stories}}","prompt":"{{RawCompletions.Prompt}}","top_p":{{topP}},"seed":7,"max_tokens":24}""";

        using var response = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json(body));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.OK, text);
        using var json = System.Text.Json.JsonDocument.Parse(text);
        Assert.StartsWith(json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!, TestPaths.Stories260KGreedyContinuation);
    }

    [Fact]
    public async Task Json_bodies_are_not_html_escaped()
    {
        var dir = TestPaths.NewTempDir("im-json");
        try
        {
            File.Copy(TestPaths.Stories260K, Path.Combine(dir, "don't <panic>.gguf"));
            await using var environment = await TestEnvironment.StartAsync(e => e.ModelsDirectory = dir);

            var body = await environment.Http.GetStringAsync("/v1/models");

            Assert.Contains("\"don't <panic>\"", body);
            Assert.DoesNotContain("\\u0027", body);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
