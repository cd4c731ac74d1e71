using System.Text;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Inference;

namespace InferenceMesh.Gateway.Mesh;

/// <summary>How a peer's greedy answer compares with this node's model.</summary>
internal enum AnswerVerdict
{
    /// <summary>The same text, possibly after forks at near ties (<see cref="AnswerCheck.Forks"/>).</summary>
    Same,

    /// <summary>The peer's text leaves this model's greedy path where the model clearly prefers its own token.</summary>
    Differs,

    /// <summary>Nothing can be said: the copy failed, or the texts forked more often than the check follows (or under a grammar).</summary>
    Inconclusive,
}

/// <summary>The verdict, how many near-tie forks were followed, and where (UTF-16 offset in the peer's text) a difference was found.</summary>
internal readonly record struct AnswerCheck(AnswerVerdict Verdict, int Forks, int DifferenceAt = -1);

/// <summary>
/// Checks a peer's greedy answer against this node's own model without counting near ties as lies. Greedy text is
/// repeatable only for the same batch and thread count: elsewhere the last bits of a logit move, and where two tokens
/// are nearly tied the text forks. So the copy runs with log probabilities; where the texts part, the peer's next token
/// must be one of this model's alternatives at that step within <paramref name="tieMargin"/> nats of the greedy one.
/// Then the copy follows the peer's branch (prompt + the peer's text up to and with that token) and compares again, up
/// to <paramref name="maxForks"/> times (not under a grammar: its state cannot start mid-answer). Anything else is a
/// difference; so is a copy that ends where the peer goes on (an end-of-generation token is not among the alternatives).
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
    private const int Alternatives = 4;

    /// <param name="request">The copy's request: the prompt (chat template applied) and the peer request's settings.</param>
    public async Task<AnswerCheck> CheckAsync(ILoadedModel model, GenerationRequest request, string peerText, CancellationToken cancellationToken)
    {
        var prefix = string.Empty;
        var used = 0;
        for (var forks = 0; ; forks++)
        {
            var remaining = request.MaxTokens - used;
            string generated;
            IReadOnlyList<TokenLogProb> tokens;
            if (remaining is < 1)
            {
                (generated, tokens) = (string.Empty, []);
            }
            else
            {
                var copy = request with { Prompt = request.Prompt + prefix, MaxTokens = remaining, TopLogProbs = Alternatives };
                var started = await inference.StartAsync(model, copy, "messages", cancellationToken);
                if (started.Value is not { } generation)
                {
                    return new AnswerCheck(AnswerVerdict.Inconclusive, forks);
                }

                await using (generation)
                {
                    var (text, logProbs, outcome) = await generation.CollectAsync(cancellationToken);
                    if (outcome.Failure is not null)
                    {
                        return new AnswerCheck(AnswerVerdict.Inconclusive, forks);
                    }

                    (generated, tokens) = (text, logProbs ?? []);
                }
            }

            var local = prefix + generated;
            if (string.Equals(local, peerText, StringComparison.Ordinal))
            {
                return new AnswerCheck(AnswerVerdict.Same, forks);
            }

            var at = CommonPrefixLength(local, peerText);
            if (Fork(tokens, at - prefix.Length, peerText.AsSpan(prefix.Length)) is not { } fork)
            {
                return new AnswerCheck(AnswerVerdict.Differs, forks, at);
            }

            // A grammar's state cannot be set to the middle of an answer, so a branch under one is not followed.
            if (forks == maxForks || request.Sampling.Grammar is not null)
            {
                return new AnswerCheck(AnswerVerdict.Inconclusive, forks, at);
            }

            prefix = peerText[..(prefix.Length + tokens[fork.Index].TextOffset)] + fork.Text;
            used += fork.Index + 1;
        }
    }

    /// <summary>The text of an alternative within the margin that the peer's text goes on with from the token's start, or null.</summary>
    private string? NearTieAlternative(TokenLogProb token, ReadOnlySpan<char> peerFromToken)
    {
        foreach (var candidate in token.Top)
        {
            if (candidate.Token == token.Chosen.Token || token.Chosen.LogProb - candidate.LogProb > tieMargin)
            {
                continue;
            }

            var text = Encoding.UTF8.GetString(candidate.Bytes);
            if (text.Length > 0 && !text.Contains('\uFFFD') && peerFromToken.StartsWith(text, StringComparison.Ordinal))
            {
                return text;
            }
        }

        return null;
    }

    /// <summary>
    /// The near tie where the texts part at offset <paramref name="at"/> of the generated text: an alternative of the
    /// token holding that offset, or of the token before when the difference starts right after it (the peer's token
    /// extends it), that the peer's text (<paramref name="peerGenerated"/>, from the same start) goes on with.
    /// </summary>
    private (int Index, string Text)? Fork(IReadOnlyList<TokenLogProb> tokens, int at, ReadOnlySpan<char> peerGenerated)
    {
        for (var i = tokens.Count - 1; i >= 0; i--)
        {
            var start = tokens[i].TextOffset;
            if (start > at)
            {
                continue;
            }

            if (NearTieAlternative(tokens[i], peerGenerated[start..]) is { } text)
            {
                return (i, text);
            }

            if (start < at)
            {
                return null; // the token holding the offset, and the one before it when the offset is its end, are checked
            }
        }

        return null;
    }

    private static int CommonPrefixLength(string a, string b) => a.AsSpan().CommonPrefixLength(b);
}
