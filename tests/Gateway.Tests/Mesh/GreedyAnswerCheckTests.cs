using System.Text;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Backends.Peer;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.Mesh;
using InferenceMesh.Gateway.Tests.Common;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.Gateway.Tests.Mesh;

/// <summary>
/// The verifier's comparison on the real model: the same greedy text is the same; an honest peer whose text forked at
/// a near tie (here: made to take the second-best token where the model's two best are closest) is the same after one
/// fork; a text that leaves the greedy path where the model clearly prefers its own token differs, also when the margin
/// is below the fork's gap. Ending is a candidate like any token: stories260K never ends on its own (ending is about 19
/// nats behind), so a logit_bias on its end-of-generation token brings ending within a few hundredths of a nat of the
/// greedy token where the two are closest (the check measures gaps with the request's bias, as greedy decoding does).
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

        var check = await new GreedyAnswerCheck(inference).CheckAsync(model, request, new PeerAnswer(text, "length"), CancellationToken.None);

        Assert.Equal(new AnswerCheck(AnswerVerdict.Same, 0), check);
    }

    [Fact]
    public async Task A_text_that_forked_at_a_near_tie_is_the_same_and_a_margin_below_the_gap_calls_it_different()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(environment);
        var (text, tokens) = await GenerateAsync(inference, model, request);
        var (index, alternative, gap) = ClosestAlternative(tokens);
        var (prefix, rest) = await ForkAsync(inference, model, request, text, tokens, index, alternative);
        var forked = prefix + rest;
        Assert.NotEqual(text, forked);

        var tolerant = await new GreedyAnswerCheck(inference, tieMargin: gap + 0.01).CheckAsync(model, request, new PeerAnswer(forked, "length"), CancellationToken.None);
        var strict = await new GreedyAnswerCheck(inference, tieMargin: gap / 2).CheckAsync(model, request, new PeerAnswer(forked, "length"), CancellationToken.None);

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

        var check = await new GreedyAnswerCheck(inference, tieMargin: 1.0).CheckAsync(model, request, new PeerAnswer(lie, "length"), CancellationToken.None);
        var shorter = await new GreedyAnswerCheck(inference).CheckAsync(model, request, new PeerAnswer(text[..at], "stop"), CancellationToken.None);

        Assert.Equal(AnswerVerdict.Differs, check.Verdict);
        // A generous margin may follow a fork or two into the made-up words; it still ends in a difference there.
        Assert.InRange(check.DifferenceAt, text.AsSpan().CommonPrefixLength(lie), lie.Length);
        Assert.Equal(new AnswerCheck(AnswerVerdict.Differs, 0, at), shorter);
    }

    [Fact]
    public async Task A_peer_that_ended_where_ending_was_a_near_tie_is_the_same_unless_it_says_it_ran_out_of_room()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(environment);
        var (text, tokens) = await GenerateAsync(inference, model, request);
        var (index, end, gap) = ClosestEnding(tokens);
        // Ending stays 0.05 nats behind the greedy token there (and further everywhere else): the copy writes the same text.
        var biased = WithBias(request, end, gap - 0.05f);
        Assert.Equal(text, (await GenerateAsync(inference, model, biased)).Text);
        var ended = text[..tokens[index].TextOffset];

        var stop = await new GreedyAnswerCheck(inference).CheckAsync(model, biased, new PeerAnswer(ended, "stop"), CancellationToken.None);
        var strict = await new GreedyAnswerCheck(inference, tieMargin: 0.01).CheckAsync(model, biased, new PeerAnswer(ended, "stop"), CancellationToken.None);
        var unbiased = await new GreedyAnswerCheck(inference).CheckAsync(model, request, new PeerAnswer(ended, "stop"), CancellationToken.None);
        var cut = await new GreedyAnswerCheck(inference).CheckAsync(model, request, new PeerAnswer(ended, "length"), CancellationToken.None);

        Assert.Equal(new AnswerCheck(AnswerVerdict.Same, 1), stop);
        Assert.Equal(new AnswerCheck(AnswerVerdict.Differs, 0, ended.Length), strict);
        Assert.Equal(new AnswerCheck(AnswerVerdict.Differs, 0, ended.Length), unbiased);
        // "length" claims max_tokens or a full context cut it, not that the model ended: nothing to check it against.
        Assert.Equal(new AnswerCheck(AnswerVerdict.Inconclusive, 0, ended.Length), cut);
    }

    [Fact]
    public async Task A_peer_that_went_on_where_the_copy_ended_at_a_near_tie_is_the_same()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(environment);
        var (text, tokens) = await GenerateAsync(inference, model, request);
        var (_, end, gap) = ClosestEnding(tokens);
        // Ending now wins by at most 0.05 nats where it is closest (or earlier, by less): the copy ends there, the peer went on.
        var biased = WithBias(request, end, gap + 0.05f);
        var (short_, _) = await GenerateAsync(inference, model, biased);
        Assert.True(short_.Length < text.Length && text.StartsWith(short_, StringComparison.Ordinal));

        var check = await new GreedyAnswerCheck(inference).CheckAsync(model, biased, new PeerAnswer(text, "length"), CancellationToken.None);
        var lie = await new GreedyAnswerCheck(inference).CheckAsync(model, biased, new PeerAnswer(short_ + " and the dragon ate the moon.", "stop"), CancellationToken.None);

        Assert.Equal(AnswerVerdict.Same, check.Verdict);
        Assert.InRange(check.Forks, 1, GreedyAnswerCheck.DefaultMaxForks);
        Assert.Equal(new AnswerCheck(AnswerVerdict.Differs, 0, short_.Length), lie);
    }

    [Fact]
    public async Task A_fork_to_a_multi_byte_character_is_followed_and_a_difference_is_placed_in_UTF16()
    {
        await using var environment = await TestEnvironment.StartAsync();
        // After an opening curly quote the model weighs a closing one (three UTF-8 bytes, one token) against '"'.
        var (inference, model, template) = await SetUpAsync(environment);
        var request = template with { Prompt = "Lily said, “" };
        var (text, tokens) = await GenerateAsync(inference, model, request);
        var (index, alternative, gap) = Enumerable.Range(0, tokens.Count - 8)
            .SelectMany(i => tokens[i].Top.Skip(1).Where(c => c.Bytes.Length > 1 && c.Bytes[0] >= 0xC0)
                .Select(c => (Index: i, Text: Encoding.UTF8.GetString(c.Bytes), Gap: tokens[i].Chosen.LogProb - c.LogProb)))
            .MinBy(c => c.Gap);
        var (prefix, rest) = await ForkAsync(inference, model, request, text, tokens, index, alternative);
        var forked = prefix + rest;
        Assert.True(Encoding.UTF8.GetByteCount(forked) > forked.Length);

        var check = await new GreedyAnswerCheck(inference, tieMargin: gap + 0.01).CheckAsync(model, request, new PeerAnswer(forked, "length"), CancellationToken.None);
        var strict = await new GreedyAnswerCheck(inference, tieMargin: gap / 2).CheckAsync(model, request, new PeerAnswer(forked, "length"), CancellationToken.None);

        Assert.Equal(new AnswerCheck(AnswerVerdict.Same, 1), check);
        Assert.Equal(new AnswerCheck(AnswerVerdict.Differs, 0, text.AsSpan().CommonPrefixLength(forked)), strict);
    }

    [Fact]
    public async Task A_peer_stopped_by_a_stop_string_on_a_branch_it_forked_into_is_inconclusive_not_different()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(environment);
        var (text, tokens) = await GenerateAsync(inference, model, request);
        var (index, alternative, _) = ClosestAlternative(tokens);
        var (prefix, rest) = await ForkAsync(inference, model, request, text, tokens, index, alternative);
        // The peer forked at the near tie and then met a stop string that starts with the fork's last character: its
        // text ends before the fork shows, where the copy (on the greedy branch, without that string) goes on.
        var stop = prefix[^1..] + rest[..4];
        Assert.DoesNotContain(stop, text);
        var stopped = new PeerAnswer(prefix[..^1], "stop");

        var withStop = await new GreedyAnswerCheck(inference).CheckAsync(model, request with { Stop = [stop] }, stopped, CancellationToken.None);
        var without = await new GreedyAnswerCheck(inference).CheckAsync(model, request, stopped, CancellationToken.None);

        Assert.Equal(new AnswerCheck(AnswerVerdict.Inconclusive, 0, stopped.Text.Length), withStop);
        // Without stop strings the same text claims the model ended there, where it clearly goes on.
        Assert.Equal(new AnswerCheck(AnswerVerdict.Differs, 0, stopped.Text.Length), without);
    }

    [Fact]
    public async Task Under_penalties_a_difference_is_inconclusive_and_the_same_text_is_the_same()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(environment);
        var penalised = request with { Sampling = request.Sampling with { FrequencyPenalty = 0.5f } };
        var (text, tokens) = await GenerateAsync(inference, model, penalised);
        var lie = text[..tokens[tokens.Count / 2].TextOffset] + " and the dragon ate the moon.";

        var same = await new GreedyAnswerCheck(inference).CheckAsync(model, penalised, new PeerAnswer(text, "length"), CancellationToken.None);
        var other = await new GreedyAnswerCheck(inference).CheckAsync(model, penalised, new PeerAnswer(lie, "stop"), CancellationToken.None);

        Assert.Equal(new AnswerCheck(AnswerVerdict.Same, 0), same);
        // The log probabilities come before the penalties, and a branch would start with none: neither tells a fork from a lie.
        Assert.Equal(AnswerVerdict.Inconclusive, other.Verdict);
    }

    [Fact]
    public async Task More_text_than_max_tokens_allows_or_padded_whitespace_differs()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(environment);
        var (text, _) = await GenerateAsync(inference, model, request);
        var (longer, _) = await GenerateAsync(inference, model, request with { MaxTokens = MaxTokens + 10 });

        var tooLong = await new GreedyAnswerCheck(inference).CheckAsync(model, request, new PeerAnswer(longer, "length"), CancellationToken.None);
        var padded = await new GreedyAnswerCheck(inference).CheckAsync(model, request, new PeerAnswer(text + "  ", "length"), CancellationToken.None);
        var leading = await new GreedyAnswerCheck(inference).CheckAsync(model, request, new PeerAnswer(" " + text, "length"), CancellationToken.None);

        Assert.Equal(new AnswerCheck(AnswerVerdict.Differs, 0, text.Length), tooLong);
        Assert.Equal(new AnswerCheck(AnswerVerdict.Differs, 0, text.Length), padded);
        Assert.Equal(AnswerVerdict.Differs, leading.Verdict);
    }

    [Fact]
    public async Task A_copy_cut_by_its_own_full_context_where_the_peer_goes_on_is_inconclusive()
    {
        await using var roomy = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(roomy);
        var (text, _) = await GenerateAsync(inference, model, request);
        await using var small = await TestEnvironment.StartAsync(e => (e.ContextLength, e.Slots) = (48, 1));
        var (smallInference, smallModel, _) = await SetUpAsync(small);

        var check = await new GreedyAnswerCheck(smallInference).CheckAsync(smallModel, request with { MaxTokens = null }, new PeerAnswer(text, "length"), CancellationToken.None);

        Assert.Equal(AnswerVerdict.Inconclusive, check.Verdict);
        Assert.InRange(check.DifferenceAt, 1, text.Length - 1);
    }

    [Fact]
    public async Task Against_a_second_peer_a_fork_at_a_near_tie_in_its_log_probabilities_is_inconclusive_not_a_mismatch()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var (inference, model, request) = await SetUpAsync(environment);
        // The second peer's answer as the verifier asks for it: greedy, with its log probabilities (real gateway, real engine).
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = TestEnvironment.Stories,
            ["messages"] = new[] { new Dictionary<string, string> { ["role"] = "user", ["content"] = "Once upon a time" } },
            ["max_tokens"] = MaxTokens,
            ["temperature"] = 0,
            ["logprobs"] = true,
            ["top_logprobs"] = GreedyAnswerCheck.Alternatives,
        });
        using var response = await environment.Http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var answer = await response.Content.ReadAsByteArrayAsync();
        var second = PeerChatBackend.Answer(answer)!.Value;
        var secondTokens = PeerVerifier.SecondPeerTokens(answer);
        var (text, tokens) = await GenerateAsync(inference, model, request);
        Assert.Equal(text, second.Text);
        var (index, alternative, gap) = ClosestAlternative(tokens);
        var (prefix, rest) = await ForkAsync(inference, model, request, text, tokens, index, alternative);
        var forked = new PeerAnswer(prefix + rest, "length");
        var lie = new PeerAnswer(text[..tokens[index].TextOffset] + " and the dragon ate the moon.", "stop");

        var tolerant = new GreedyAnswerCheck(inference, tieMargin: gap + 0.01);
        var strict = new GreedyAnswerCheck(inference, tieMargin: gap / 2);
        var sampling = request.Sampling;

        Assert.Equal(new AnswerCheck(AnswerVerdict.Same, 0), tolerant.CompareWithSecondPeer(second, second, secondTokens, sampling));
        var parted = text.AsSpan().CommonPrefixLength(forked.Text);
        Assert.Equal(new AnswerCheck(AnswerVerdict.Inconclusive, 1, parted), tolerant.CompareWithSecondPeer(forked, second, secondTokens, sampling));
        Assert.Equal(new AnswerCheck(AnswerVerdict.Differs, 0, parted), strict.CompareWithSecondPeer(forked, second, secondTokens, sampling));
        Assert.Equal(AnswerVerdict.Differs, tolerant.CompareWithSecondPeer(lie, second, secondTokens, sampling).Verdict);
        // Ending is not in OpenAI log probabilities: a text that ends where the other goes on cannot be judged.
        Assert.Equal(AnswerVerdict.Inconclusive, tolerant.CompareWithSecondPeer(new PeerAnswer(text[..tokens[index].TextOffset], "stop"), second, secondTokens, sampling).Verdict);
    }

    /// <summary>An honest peer's text that took <paramref name="alternative"/> at step <paramref name="index"/>: the text to and with it, and the greedy rest.</summary>
    private static async Task<(string Prefix, string Continuation)> ForkAsync(InferenceService inference, ILoadedModel model, GenerationRequest request, string text, IReadOnlyList<TokenLogProb> tokens, int index, string alternative)
    {
        var prefix = text[..tokens[index].TextOffset] + alternative;
        var (rest, _) = await GenerateAsync(inference, model, request with { Prompt = request.Prompt + prefix, MaxTokens = MaxTokens - index - 1 });
        return (prefix, rest);
    }

    /// <summary>The closest second choice in the answer (not in its last few tokens, so there is text after the fork).</summary>
    private static (int Index, string Text, float Gap) ClosestAlternative(IReadOnlyList<TokenLogProb> tokens) =>
        Enumerable.Range(0, tokens.Count - 8)
            .Select(i => (Index: i, Second: tokens[i].Top[1]))
            .Where(c => Encoding.UTF8.GetString(c.Second.Bytes) is { Length: > 0 } s && !s.Contains('\uFFFD'))
            .Select(c => (c.Index, Text: Encoding.UTF8.GetString(c.Second.Bytes), Gap: tokens[c.Index].Chosen.LogProb - c.Second.LogProb))
            .MinBy(c => c.Gap);

    /// <summary>The step (not among the last few) where ending is closest to the greedy token, the end-of-generation token, and the gap.</summary>
    private static (int Index, int End, float Gap) ClosestEnding(IReadOnlyList<TokenLogProb> tokens) =>
        Enumerable.Range(0, tokens.Count - 8)
            .Select(i => (Index: i, End: tokens[i].EndOfGeneration!.Value.Token, Gap: tokens[i].Chosen.LogProb - tokens[i].EndOfGeneration!.Value.LogProb))
            .MinBy(c => c.Gap);

    private static GenerationRequest WithBias(GenerationRequest request, int token, float bias) =>
        request with { Sampling = request.Sampling with { LogitBias = new Dictionary<int, float> { [token] = bias } } };

    private static async Task<(InferenceService Inference, ILoadedModel Model, GenerationRequest Request)> SetUpAsync(TestEnvironment environment)
    {
        var inference = environment.App.Services.GetRequiredService<InferenceService>();
        var model = (await inference.ResolveModelAsync(TestEnvironment.Stories, CancellationToken.None)).Value!;
        var prompt = model.ApplyChatTemplate([new ChatMessage("user", "Once upon a time")]).Value!;
        return (inference, model, new GenerationRequest { Prompt = prompt, MaxTokens = MaxTokens, Sampling = SamplingOptions.Greedy });
    }

    private static async Task<(string Text, IReadOnlyList<TokenLogProb> Tokens)> GenerateAsync(InferenceService inference, ILoadedModel model, GenerationRequest request)
    {
        await using var generation = (await inference.StartAsync(model, request with { TopLogProbs = 4, EndOfGenerationLogProbs = true }, "messages", CancellationToken.None)).Value!;
        var (text, tokens, outcome) = await generation.CollectAsync(CancellationToken.None);
        Assert.Null(outcome.Failure);
        return (text, tokens!);
    }
}
