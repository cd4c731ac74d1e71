using System.Text;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Inference;

namespace InferenceMesh.Gateway.Mesh;

/// <summary>How a peer's greedy answer compares with this node's model.</summary>
internal enum AnswerVerdict
{
    /// <summary>The same text, possibly after forks at near ties (<see cref="AnswerCheck.Forks"/>).</summary>
    Same,

    /// <summary>The peer's text leaves this model's greedy path where the model clearly prefers its own token (or its own end).</summary>
    Differs,

    /// <summary>
    /// Nothing can be said: the copy failed; the texts forked more often than the check follows, or where a branch
    /// cannot be followed (a grammar, penalties); or a text ended for want of room (max_tokens, a full context) where
    /// the other goes on.
    /// </summary>
    Inconclusive,
}

/// <summary>The verdict, how many near-tie forks were followed, and where (UTF-16 offset in the peer's text) a difference was found.</summary>
internal readonly record struct AnswerCheck(AnswerVerdict Verdict, int Forks, int DifferenceAt = -1);

/// <summary>A peer's answer: its text and its <c>finish_reason</c> (<c>length</c> says max_tokens or the context cut it; anything else claims the model ended it).</summary>
internal readonly record struct PeerAnswer(string Text, string? FinishReason)
{
    public bool CutForRoom => string.Equals(FinishReason, "length", StringComparison.Ordinal);
}

/// <summary>
/// Checks a peer's greedy answer against this node's own model without counting near ties as lies. Greedy text is
/// repeatable only for the same batch and thread count: elsewhere the last bits of a logit move, and where two tokens
/// are nearly tied the text forks. So the copy runs with log probabilities; where the texts part, the peer's next token
/// must be one of this model's alternatives at that step within <paramref name="tieMargin"/> nats of the greedy one.
/// End-of-generation is a candidate like any token: a peer that ended where the copy goes on must have had ending
/// within the margin there, and where the copy ended the peer's next token must be one of the alternatives to ending.
/// Then the copy follows the peer's branch (prompt + the peer's text up to and with that token) and compares again, up
/// to <paramref name="maxForks"/> times (not under a grammar or penalties: their state cannot start mid-answer).
/// The comparison is in UTF-8 bytes, so a fork inside a character split across tokens is found; the branch then
/// starts after that character. Gaps are measured on the model's log probabilities plus the request's logit_bias
/// (what greedy decoding compared); penalties change them in ways the log probabilities do not show, so under
/// penalties any difference is inconclusive.
/// </summary>
internal sealed class GreedyAnswerCheck(InferenceService inference, double tieMargin = GreedyAnswerCheck.DefaultTieMargin, int maxForks = GreedyAnswerCheck.DefaultMaxForks)
{
    /// <summary>
    /// Nats. Numeric noise across batches and thread counts moves log probabilities by far less (about 1e-3 on the
    /// test models); a cheaper model's output leaves the greedy path by whole nats.
    /// </summary>
    public const double DefaultTieMargin = 0.1;

    public const int DefaultMaxForks = 8;

    /// <summary>Alternatives looked at per step.</summary>
    internal const int Alternatives = 4;

    /// <param name="request">The copy's request: the prompt (chat template applied) and the peer request's settings.</param>
    public async Task<AnswerCheck> CheckAsync(ILoadedModel model, GenerationRequest request, PeerAnswer peerAnswer, CancellationToken cancellationToken)
    {
        var peer = Encoding.UTF8.GetBytes(peerAnswer.Text);
        var sampling = request.Sampling;
        var penalised = Penalised(sampling);
        var prefix = 0; // bytes of the peer's text the copy's prompt holds (always whole characters)
        var used = 0;
        var overCounted = false; // the tokens used may be fewer than counted (see the end of the loop)
        for (var forks = 0; ; forks++)
        {
            var prefixText = Encoding.UTF8.GetString(peer, 0, prefix);
            var remaining = request.MaxTokens - used;
            var copy = remaining is < 1
                ? new Copy(string.Empty, [], null, OutOfRoom: true, LengthCut: true)
                : await RunAsync(model, request with { Prompt = request.Prompt + prefixText, MaxTokens = remaining }, remaining, cancellationToken);
            if (copy is null)
            {
                return new AnswerCheck(AnswerVerdict.Inconclusive, forks);
            }

            var local = Encoding.UTF8.GetBytes(prefixText + copy.Text);
            if (local.AsSpan().SequenceEqual(peer))
            {
                return new AnswerCheck(AnswerVerdict.Same, forks);
            }

            var at = local.AsSpan().CommonPrefixLength(peer);
            var differenceAt = CharOffset(peer, at);
            if (penalised)
            {
                return new AnswerCheck(AnswerVerdict.Inconclusive, forks, differenceAt);
            }

            var starts = TokenStarts(copy.Tokens, prefix);
            (int Index, int End)? fork = null;
            if (at == peer.Length)
            {
                // The peer ended where the copy goes on. Cut for room, that says nothing about the model; otherwise
                // ending must have been a near tie at the copy's step there.
                if (peerAnswer.CutForRoom)
                {
                    return new AnswerCheck(AnswerVerdict.Inconclusive, forks, differenceAt);
                }

                var step = Array.IndexOf(starts, at);
                if (step >= 0 && copy.Tokens[step].EndOfGeneration is { } end && Gap(copy.Tokens[step].Chosen, end, sampling) <= tieMargin)
                {
                    return new AnswerCheck(AnswerVerdict.Same, forks + 1);
                }

                // A stop string cuts the text before it starts: where it began on a branch forked at a near tie, the
                // peer's text ends before that fork shows. Nothing tells that from an answer cut short.
                if (request.Stop.Count > 0)
                {
                    return new AnswerCheck(AnswerVerdict.Inconclusive, forks, differenceAt);
                }
            }
            else if (at == local.Length)
            {
                // The copy ended where the peer goes on: at its end-of-generation step the peer's token must be a near
                // tie with ending. Ended for want of room, the peer may have had more (a larger context, or fewer
                // tokens than counted for a character split across them).
                if (copy.EndStep is { } endStep && NearTieAlternative(endStep, peer.AsSpan(at), sampling) is { } alternative)
                {
                    fork = (copy.Tokens.Count, at + alternative);
                }
                else if (copy.EndStep is null && copy.LengthCut && (!copy.OutOfRoom || overCounted))
                {
                    return new AnswerCheck(AnswerVerdict.Inconclusive, forks, differenceAt);
                }
            }

            fork ??= Fork(copy.Tokens, starts, at, peer, sampling);
            if (fork is not { } found)
            {
                return new AnswerCheck(AnswerVerdict.Differs, forks, differenceAt);
            }

            // A grammar's state cannot be set to the middle of an answer, so a branch under one is not followed.
            if (forks == maxForks || sampling.Grammar is not null)
            {
                return new AnswerCheck(AnswerVerdict.Inconclusive, forks, differenceAt);
            }

            // A token that ends inside a character: the branch starts after the character (the prompt is text). Its
            // other bytes took a token each with byte-fallback vocabularies, fewer where a token holds several.
            var next = found.End;
            while (next < peer.Length && IsContinuation(peer[next]))
            {
                next++;
            }

            used += found.Index + 1 + (next - found.End);
            overCounted |= next - found.End > 1;
            prefix = next;
        }
    }

    /// <summary>
    /// Compares a peer's answer with a second peer's, whose tokens come from its OpenAI log probabilities (no
    /// end-of-generation, no way to make it follow a branch): the same text is the same; texts that part where the
    /// first peer's token is a near tie in the second's log probabilities, or where one of them ended (ending is not
    /// in those log probabilities), or under logit_bias or penalties (gaps the log probabilities do not show), are
    /// inconclusive; any other difference differs.
    /// </summary>
    public AnswerCheck CompareWithSecondPeer(PeerAnswer first, PeerAnswer second, IReadOnlyList<TokenLogProb> secondTokens, SamplingOptions sampling)
    {
        var peer = Encoding.UTF8.GetBytes(first.Text);
        var other = Encoding.UTF8.GetBytes(second.Text);
        if (peer.AsSpan().SequenceEqual(other))
        {
            return new AnswerCheck(AnswerVerdict.Same, 0);
        }

        var at = other.AsSpan().CommonPrefixLength(peer);
        var differenceAt = CharOffset(peer, at);
        if (Penalised(sampling) || sampling.LogitBias is { Count: > 0 } || at == peer.Length || at == other.Length)
        {
            return new AnswerCheck(AnswerVerdict.Inconclusive, 0, differenceAt);
        }

        return Fork(secondTokens, TokenStarts(secondTokens, 0), at, peer, sampling) is null
            ? new AnswerCheck(AnswerVerdict.Differs, 0, differenceAt)
            : new AnswerCheck(AnswerVerdict.Inconclusive, 1, differenceAt);
    }

    private static bool Penalised(SamplingOptions sampling) =>
        sampling.PenaltyLastN != 0 && (sampling.RepeatPenalty != 1f || sampling.FrequencyPenalty != 0f || sampling.PresencePenalty != 0f);

    /// <summary>The copy: its text, the tokens (with alternatives and end-of-generation), the step that ended it, and how it ended.</summary>
    private sealed record Copy(string Text, IReadOnlyList<TokenLogProb> Tokens, TokenLogProb? EndStep, bool OutOfRoom = false, bool LengthCut = false);

    private async Task<Copy?> RunAsync(ILoadedModel model, GenerationRequest request, int? budget, CancellationToken cancellationToken)
    {
        var started = await inference.StartAsync(model, request with { TopLogProbs = Alternatives, EndOfGenerationLogProbs = true }, "messages", cancellationToken);
        if (started.Value is not { } generation)
        {
            return null;
        }

        await using (generation)
        {
            var (text, logProbs, outcome) = await generation.CollectAsync(cancellationToken);
            if (outcome.Failure is not null)
            {
                return null;
            }

            var length = outcome.FinishReason == FinishReason.Length;
            return new Copy(text, logProbs ?? [], outcome.EndOfGenerationStep,
                OutOfRoom: length && outcome.CompletionTokens >= budget, LengthCut: length);
        }
    }

    /// <summary>The byte offset of each token in the whole answer (the copy's text starts at <paramref name="prefix"/>).</summary>
    private static int[] TokenStarts(IReadOnlyList<TokenLogProb> tokens, int prefix)
    {
        var starts = new int[tokens.Count];
        for (var i = 0; i < tokens.Count; i++)
        {
            starts[i] = prefix;
            prefix += tokens[i].Chosen.Bytes.Length;
        }

        return starts;
    }

    /// <summary>
    /// The near tie where the texts part at byte <paramref name="at"/>: an alternative of the token holding that
    /// offset, or of the token before when the difference starts right after it (the peer's token extends it), that the
    /// peer's text goes on with from the token's start; returns the step and where the peer's token ends.
    /// </summary>
    private (int Index, int End)? Fork(IReadOnlyList<TokenLogProb> tokens, int[] starts, int at, byte[] peer, SamplingOptions sampling)
    {
        for (var i = tokens.Count - 1; i >= 0; i--)
        {
            var start = starts[i];
            if (start > at)
            {
                continue;
            }

            if (NearTieAlternative(tokens[i], peer.AsSpan(start), sampling) is { } length)
            {
                return (i, start + length);
            }

            if (start < at)
            {
                return null; // the token holding the offset, and the one before it when the offset is its end, are checked
            }
        }

        return null;
    }

    /// <summary>The length in bytes of an alternative within the margin that the peer's text goes on with from the step's start, or null.</summary>
    private int? NearTieAlternative(TokenLogProb step, ReadOnlySpan<byte> peerFromStep, SamplingOptions sampling)
    {
        foreach (var candidate in step.Top)
        {
            if (candidate.Token != step.Chosen.Token && candidate.Bytes.Length > 0 && Gap(step.Chosen, candidate, sampling) <= tieMargin
                && peerFromStep.StartsWith(candidate.Bytes))
            {
                return candidate.Bytes.Length;
            }
        }

        return null;
    }

    /// <summary>How much greedy decoding preferred <paramref name="chosen"/>: log probabilities plus logit_bias (the normaliser cancels out).</summary>
    private static double Gap(TokenCandidate chosen, TokenCandidate other, SamplingOptions sampling) =>
        chosen.LogProb + Bias(sampling, chosen.Token) - (other.LogProb + Bias(sampling, other.Token));

    private static float Bias(SamplingOptions sampling, int token) =>
        sampling.LogitBias is { } bias && bias.TryGetValue(token, out var value) ? value : 0f;

    private static bool IsContinuation(byte value) => (value & 0xC0) == 0x80;

    /// <summary>The UTF-16 offset in the peer's text of the character holding byte <paramref name="at"/>.</summary>
    private static int CharOffset(byte[] peer, int at)
    {
        while (at > 0 && at < peer.Length && IsContinuation(peer[at]))
        {
            at--;
        }

        return Encoding.UTF8.GetCharCount(peer, 0, at);
    }
}
