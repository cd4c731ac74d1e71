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
}
