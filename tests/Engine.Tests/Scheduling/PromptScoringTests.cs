using InferenceMesh.Engine.Hosting;
using InferenceMesh.Tests;

namespace InferenceMesh.Engine.Tests.Scheduling;

/// <summary>
/// Scoring a prompt on the real model: every token but the first gets a score, chunked prefill (a batch smaller than
/// the prompt) scores the same values as one decode, a prompt whose prefix is cached is still scored in full, and
/// max_tokens 0 reads the prompt without generating.
/// </summary>
public sealed class PromptScoringTests
{
    private static readonly string Text = "Once upon a time" + TestPaths.Stories260KGreedyContinuation;

    [Fact]
    public async Task Chunked_prefill_scores_every_token_as_one_decode_does_even_with_the_prefix_cached()
    {
        await using var whole = await EngineHarness.StartAsync();
        await using var chunked = await EngineHarness.StartAsync(new EngineOptions { Slots = 2, SlotContextLength = 512, BatchSize = 8 });

        var one = await ScoreAsync(whole);
        var many = await ScoreAsync(chunked);
        var again = await ScoreAsync(chunked); // the same prompt again: its cells are cached, but it is read afresh

        var tokens = whole.Model.Tokenize(Text, addSpecial: true, parseSpecial: true);
        Assert.Equal(tokens.Length - 1, one.Rest.Count);
        Assert.Equal(tokens[0], one.First.Token);
        Assert.Equal(tokens[1..], one.Rest.Select(t => t.Chosen.Token));
        Assert.Equal(one.Rest.Select(t => t.Chosen.Token), many.Rest.Select(t => t.Chosen.Token));
        Assert.All(one.Rest.Zip(many.Rest), p => Assert.Equal(p.First.Chosen.LogProb, p.Second.Chosen.LogProb, 0.002f));
        Assert.Equal(many.Rest.Select(t => t.Chosen.LogProb), again.Rest.Select(t => t.Chosen.LogProb));
        Assert.All(one.Rest, t => Assert.InRange(t.Chosen.LogProb, float.MinValue, 0f));
        Assert.All(one.Rest, t => Assert.Equal(2, t.Top.Count));
    }

    [Fact]
    public async Task Without_asking_there_are_no_prompt_scores()
    {
        await using var engine = await EngineHarness.StartAsync();
        var started = await engine.Model.StartGenerationAsync(EngineHarness.Greedy(Text, 2));
        await using var generation = started.Value!;
        await foreach (var _ in generation.ReadAsync())
        {
        }

        Assert.Null(await generation.PromptLogProbs);
    }

    private static async Task<PromptLogProbs> ScoreAsync(EngineHarness engine)
    {
        var request = EngineHarness.Greedy(Text, 0) with { ScorePrompt = true, TopLogProbs = 2 };
        var started = await engine.Model.StartGenerationAsync(request);
        Assert.True(started.Succeeded, started.Failure?.Message);
        await using var generation = started.Value!;
        await foreach (var delta in generation.ReadAsync())
        {
            Assert.Fail("max_tokens 0 generates nothing: " + delta.Text);
        }

        var outcome = await generation.Completion;
        Assert.Equal(new GenerationOutcome(FinishReason.Length, outcome.PromptTokens, 0), outcome);
        return (await generation.PromptLogProbs)!;
    }
}
