namespace InferenceMesh.Engine.Scheduling;

/// <summary>
/// Pairs generated tokens' log probabilities with the text deltas that carry them. Each token ends at a character
/// offset of the generated text (one character further while its UTF-8 sequence is incomplete); a delta releases the
/// tokens whose text it completes. At the end, the tokens whose text began before the last character sent are
/// released too, and the rest (a stop string's tokens) are dropped.
/// </summary>
internal sealed class LogProbTrail
{
    private readonly Queue<(TokenLogProb Entry, int Start, int End)> _pending = new();
    private int _generatedChars;
    private int _sentChars;

    /// <summary>Records a token whose text added <paramref name="completedChars"/> characters (holding back an incomplete one when <paramref name="incomplete"/>).</summary>
    public void Add(TokenLogProb entry, int completedChars, bool incomplete)
    {
        var start = _generatedChars;
        _generatedChars += completedChars;
        _pending.Enqueue((entry with { TextOffset = start }, start, _generatedChars + (incomplete ? 1 : 0)));
    }

    /// <summary>The tokens a delta of <paramref name="sentChars"/> characters completes (all that started before its end when <paramref name="final"/>).</summary>
    public IReadOnlyList<TokenLogProb> Release(int sentChars, bool final)
    {
        _sentChars += sentChars;
        List<TokenLogProb>? released = null;
        while (_pending.TryPeek(out var next) && (next.End <= _sentChars || (final && next.Start < _sentChars)))
        {
            (released ??= []).Add(_pending.Dequeue().Entry);
        }

        if (final)
        {
            _pending.Clear();
        }

        return released ?? (IReadOnlyList<TokenLogProb>)[];
    }
}
