using System.Text;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.Mesh;
using InferenceMesh.Gateway.Tests.Common;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.Gateway.Tests.Mesh;

/// <summary>
/// The verifier's comparison on the real model: the same greedy text is the same; an honest peer whose text forked at
/// a near tie (here: made to take the second-best token where the model's two best are closest) is the same after one
/// fork; a text that leaves the greedy path where the model clearly prefers its own token differs, also when the margin
/// is below the fork's gap.
/// </summary>
public sealed class GreedyAnswerCheckTests
{
    private const int MaxTokens = 120;

    [Fact]
    public async Task The_same_greedy_text_is_the_same_without_forks()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(environment);
        var (text, _) = await GenerateAsync(inference, model, request);

        var check = await new GreedyAnswerCheck(inference).CheckAsync(model, request, text, CancellationToken.None);

        Assert.Equal(new AnswerCheck(AnswerVerdict.Same, 0), check);
    }

    [Fact]
    public async Task A_text_that_forked_at_a_near_tie_is_the_same_and_a_margin_below_the_gap_calls_it_different()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(environment);
        var (text, tokens) = await GenerateAsync(inference, model, request);
        // The closest second choice in the answer (not in its last few tokens, so there is text after the fork).
        var (index, alternative, gap) = Enumerable.Range(0, tokens.Count - 8)
            .Select(i => (Index: i, Second: tokens[i].Top[1]))
            .Where(c => Encoding.UTF8.GetString(c.Second.Bytes) is { Length: > 0 } s && !s.Contains('\uFFFD'))
            .Select(c => (c.Index, Text: Encoding.UTF8.GetString(c.Second.Bytes), Gap: tokens[c.Index].Chosen.LogProb - c.Second.LogProb))
            .MinBy(c => c.Gap);
        var prefix = text[..tokens[index].TextOffset] + alternative;
        var (rest, _) = await GenerateAsync(inference, model, request with { Prompt = request.Prompt + prefix, MaxTokens = MaxTokens - index - 1 });
        var forked = prefix + rest;
        Assert.NotEqual(text, forked);

        var tolerant = await new GreedyAnswerCheck(inference, tieMargin: gap + 0.01).CheckAsync(model, request, forked, CancellationToken.None);
        var strict = await new GreedyAnswerCheck(inference, tieMargin: gap / 2).CheckAsync(model, request, forked, CancellationToken.None);

        Assert.Equal(new AnswerCheck(AnswerVerdict.Same, 1), tolerant);
        Assert.Equal(AnswerVerdict.Differs, strict.Verdict);
        Assert.Equal(text.AsSpan().CommonPrefixLength(forked), strict.DifferenceAt);
    }

    [Fact]
    public async Task A_text_off_the_greedy_path_differs_where_it_leaves_it()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(environment);
        var (text, tokens) = await GenerateAsync(inference, model, request);
        var at = tokens[tokens.Count / 2].TextOffset;
        var lie = text[..at] + " and the dragon ate the moon.";

        var check = await new GreedyAnswerCheck(inference, tieMargin: 1.0).CheckAsync(model, request, lie, CancellationToken.None);
        var shorter = await new GreedyAnswerCheck(inference).CheckAsync(model, request, text[..at], CancellationToken.None);

        Assert.Equal(AnswerVerdict.Differs, check.Verdict);
        // A generous margin may follow a fork or two into the made-up words; it still ends in a difference there.
        Assert.InRange(check.DifferenceAt, text.AsSpan().CommonPrefixLength(lie), lie.Length);
        Assert.Equal(new AnswerCheck(AnswerVerdict.Differs, 0, at), shorter);
    }

    private static async Task<(InferenceService Inference, ILoadedModel Model, GenerationRequest Request)> SetUpAsync(TestEnvironment environment)
    {
        var inference = environment.App.Services.GetRequiredService<InferenceService>();
        var model = (await inference.ResolveModelAsync(TestEnvironment.Stories, CancellationToken.None)).Value!;
        var prompt = model.ApplyChatTemplate([new ChatMessage("user", "Once upon a time")]).Value!;
        return (inference, model, new GenerationRequest { Prompt = prompt, MaxTokens = MaxTokens, Sampling = SamplingOptions.Greedy });
    }

    private static async Task<(string Text, IReadOnlyList<TokenLogProb> Tokens)> GenerateAsync(InferenceService inference, ILoadedModel model, GenerationRequest request)
    {
        await using var generation = (await inference.StartAsync(model, request with { TopLogProbs = 2 }, "messages", CancellationToken.None)).Value!;
        var (text, tokens, outcome) = await generation.CollectAsync(CancellationToken.None);
        Assert.Null(outcome.Failure);
        return (text, tokens!);
    }
}
