using InferenceMesh.Engine.Native;

namespace InferenceMesh.Engine.Scheduling;

internal sealed partial class BatchScheduler
{
    private int _vocabularySize;

    /// <summary>The vocabulary's end-of-generation tokens (EOS, EOT, …), found on first use.</summary>
    private int[]? _endOfGenerationTokens;

    /// <summary>The prompt chunks of this step whose every token has logits: (sequence, first batch index, first position, count).</summary>
    private readonly List<(Sequence Sequence, int BatchIndex, int Position, int Count)> _promptScoring = [];

    /// <summary>
    /// Scores the prompt tokens that this step's logits predict (position p's logits score token p + 1) and hands the
    /// scored prompt over once its last chunk was read.
    /// </summary>
    private void ScorePromptChunks()
    {
        foreach (var (sequence, batchIndex, position, count) in _promptScoring)
        {
            var prompt = sequence.PromptTokens;
            var top = sequence.Request.TopLogProbs ?? 0;
            for (var i = 0; i < count && position + i + 1 < prompt.Length; i++)
            {
                sequence.PromptScores!.Add(LogProbOf(batchIndex + i, prompt[position + i + 1], top));
            }

            if (position + count == prompt.Length)
            {
                sequence.PromptScored.TrySetResult(new PromptLogProbs(Candidate(prompt[0], 0f), sequence.PromptScores!));
            }
        }
    }

    /// <summary>
    /// The log probability of <paramref name="token"/> and the <paramref name="top"/> most likely tokens at output
    /// <paramref name="batchIndex"/> of the last decode: a log-softmax over the raw logits (the sampler chain reads
    /// them without changing them), in one pass for the normaliser and one for the best candidates.
    /// </summary>
    private unsafe TokenLogProb LogProbOf(int batchIndex, int token, int top, bool endOfGeneration = false)
    {
        if (_vocabularySize == 0)
        {
            _vocabularySize = LlamaNative.llama_vocab_n_tokens(_vocab);
        }

        var logits = new ReadOnlySpan<float>(LlamaNative.llama_get_logits_ith(_context, batchIndex), _vocabularySize);
        var max = float.NegativeInfinity;
        foreach (var logit in logits)
        {
            max = Math.Max(max, logit);
        }

        var sum = 0d;
        foreach (var logit in logits)
        {
            sum += Math.Exp(logit - max);
        }

        var normaliser = max + (float)Math.Log(sum);
        var best = BestTokens(logits, top);
        var candidates = new TokenCandidate[best.Length];
        for (var i = 0; i < best.Length; i++)
        {
            candidates[i] = Candidate(best[i], logits[best[i]] - normaliser);
        }

        var entry = new TokenLogProb(Candidate(token, logits[token] - normaliser), candidates);
        if (!endOfGeneration)
        {
            return entry;
        }

        _endOfGenerationTokens ??= [.. Enumerable.Range(0, _vocabularySize).Where(t => LlamaNative.llama_vocab_is_eog(_vocab, t))];
        var end = -1;
        foreach (var candidate in _endOfGenerationTokens)
        {
            if (end < 0 || logits[candidate] > logits[end])
            {
                end = candidate;
            }
        }

        return end < 0 ? entry : entry with { EndOfGeneration = Candidate(end, logits[end] - normaliser) };
    }

    private TokenCandidate Candidate(int token, float logProb) => new(token, TokenPiece(token).ToArray(), logProb);

    /// <summary>The indices of the <paramref name="count"/> largest logits, largest first (the lower id first on a tie).</summary>
    internal static int[] BestTokens(ReadOnlySpan<float> logits, int count)
    {
        count = Math.Min(count, logits.Length);
        var best = new int[count];
        var filled = 0;
        for (var token = 0; token < logits.Length && count > 0; token++)
        {
            var logit = logits[token];
            if (filled == count && logit <= logits[best[filled - 1]])
            {
                continue;
            }

            var at = filled == count ? count - 1 : filled++;
            while (at > 0 && logits[best[at - 1]] < logit)
            {
                best[at] = best[at - 1];
                at--;
            }

            best[at] = token;
        }

        return best;
    }
}
