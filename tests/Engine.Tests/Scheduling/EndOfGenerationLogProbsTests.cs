namespace InferenceMesh.Engine.Tests.Scheduling;

/// <summary>
/// End-of-generation log probabilities on the real model, only when asked: each token says how likely ending was at
/// its step, and an answer that ended on end-of-generation reports that step with the tokens the model had instead
/// (a stop string or max_tokens reports none). stories260K never ends on its own, so a logit_bias makes it end.
/// </summary>
public sealed class EndOfGenerationLogProbsTests
{
    private const int EndOfSentence = 2; // stories260K's EOS (its only end-of-generation token)

    [Fact]
    public async Task Each_token_carries_the_log_probability_of_ending_there_when_asked()
    {
        await using var engine = await EngineHarness.StartAsync();
        var request = EngineHarness.Greedy("Once upon a time", 12) with { TopLogProbs = 2, EndOfGenerationLogProbs = true };

        var (asked, outcome) = await CollectAsync(engine, request);
        var (plain, _) = await CollectAsync(engine, request with { EndOfGenerationLogProbs = false });

        Assert.Equal(12, asked.Count);
        Assert.All(asked, t => Assert.Equal(EndOfSentence, t.EndOfGeneration!.Value.Token));
        Assert.All(asked, t => Assert.InRange(t.EndOfGeneration!.Value.LogProb, float.MinValue, t.Chosen.LogProb));
        Assert.Null(outcome.EndOfGenerationStep); // max_tokens ended it
        Assert.All(plain, t => Assert.Null(t.EndOfGeneration));
        Assert.Equal(plain.Select(t => t.Chosen.LogProb), asked.Select(t => t.Chosen.LogProb));
    }

    [Fact]
    public async Task An_answer_that_ends_on_end_of_generation_reports_that_step_with_its_alternatives()
    {
        await using var engine = await EngineHarness.StartAsync();
        var request = EngineHarness.Greedy("Once upon a time", 12) with
        {
            TopLogProbs = 3,
            EndOfGenerationLogProbs = true,
            Sampling = SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [EndOfSentence] = 100 } },
        };

        var (tokens, outcome) = await CollectAsync(engine, request);
        var (_, plain) = await CollectAsync(engine, request with { EndOfGenerationLogProbs = false });
        var (_, stopped) = await CollectAsync(engine, EngineHarness.Greedy("Once upon a time", 12, "little") with { TopLogProbs = 3, EndOfGenerationLogProbs = true });

        Assert.Empty(tokens);
        Assert.Equal(FinishReason.Stop, outcome.FinishReason);
        var step = outcome.EndOfGenerationStep!;
        Assert.Equal(EndOfSentence, step.Chosen.Token);
        Assert.Equal(3, step.Top.Count);
        Assert.Equal(",", System.Text.Encoding.UTF8.GetString(step.Top[0].Bytes)); // the greedy text starts with ", there was"
        Assert.Null(plain.EndOfGenerationStep);
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Null(stopped.EndOfGenerationStep);
    }

    private static async Task<(List<TokenLogProb> Tokens, GenerationOutcome Outcome)> CollectAsync(EngineHarness engine, GenerationRequest request)
    {
        var started = await engine.Model.StartGenerationAsync(request);
        Assert.True(started.Succeeded, started.Failure?.Message);
        await using var generation = started.Value!;
        var tokens = new List<TokenLogProb>();
        await foreach (var delta in generation.ReadAsync())
        {
            tokens.AddRange(delta.LogProbs ?? []);
        }

        return (tokens, await generation.Completion);
    }
}
