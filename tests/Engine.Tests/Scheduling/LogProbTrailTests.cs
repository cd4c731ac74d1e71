using InferenceMesh.Engine.Scheduling;

namespace InferenceMesh.Engine.Tests.Scheduling;

/// <summary>Which text delta carries which token's log probability, and the top-N pick over logits.</summary>
public sealed class LogProbTrailTests
{
    [Fact]
    public void A_token_arrives_with_the_delta_that_completes_its_text()
    {
        var trail = new LogProbTrail();
        trail.Add(Entry(1), completedChars: 3, incomplete: false); // "abc"
        trail.Add(Entry(2), completedChars: 0, incomplete: true);  // the first byte of "é"
        trail.Add(Entry(3), completedChars: 1, incomplete: false); // its second byte: "é" is complete

        Assert.Equal([1], Tokens(trail.Release(3, final: false)));
        Assert.Equal([2, 3], Tokens(trail.Release(1, final: false)));
    }

    [Fact]
    public void Text_held_back_for_a_possible_stop_string_holds_its_tokens_back_too()
    {
        var trail = new LogProbTrail();
        trail.Add(Entry(1), 4, false); // "abcd": "cd" might start a stop string, so "ab" is sent
        Assert.Empty(trail.Release(2, final: false));
        trail.Add(Entry(2), 2, false); // "ef": it did not; "cdef" is sent
        Assert.Equal([1, 2], Tokens(trail.Release(4, final: false)));
    }

    [Fact]
    public void At_the_end_the_tokens_of_the_stop_string_are_dropped()
    {
        var trail = new LogProbTrail();
        trail.Add(Entry(1), 2, false); // "ab"
        trail.Add(Entry(2), 3, false); // "cXY": the stop string "XY" starts inside it
        trail.Add(Entry(3), 2, false); // "Z!": wholly after the stop string's start
        Assert.Equal([1], Tokens(trail.Release(2, final: false)));

        var last = trail.Release(1, final: true); // "c", the text before the stop string

        Assert.Equal([2], Tokens(last));
        Assert.Equal(2, last[0].TextOffset);
        Assert.Empty(trail.Release(0, final: true));
    }

    [Fact]
    public void Best_tokens_are_the_largest_logits_largest_first_lower_id_first_on_a_tie()
    {
        float[] logits = [0.5f, 3f, -1f, 3f, 2f, 7f];

        Assert.Equal([5, 1, 3], BatchScheduler.BestTokens(logits, 3));
        Assert.Equal([5, 1, 3, 4, 0, 2], BatchScheduler.BestTokens(logits, 10));
        Assert.Empty(BatchScheduler.BestTokens(logits, 0));
    }

    private static TokenLogProb Entry(int token) => new(new TokenCandidate(token, [], -1f), []);

    private static int[] Tokens(IReadOnlyList<TokenLogProb> entries) => entries.Select(e => e.Chosen.Token).ToArray();
}
