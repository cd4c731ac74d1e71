using System.Text.RegularExpressions;
using InferenceMesh.ContextStore.Rag.Chunking;

namespace InferenceMesh.ContextStore.Tests.Rag;

public sealed partial class TokenChunkerTests
{
    /// <summary>One token per whitespace-separated word.</summary>
    private static int Words(string text) => WordPattern().Count(text);

    /// <summary>One token per character, spaces included: a tokenizer whose tokens do not follow words.</summary>
    private static int Characters(string text) => text.Length;

    private static string Numbered(int words) => string.Join(" ", Enumerable.Range(0, words).Select(i => "w" + i));

    [Fact]
    public void Chunks_fit_the_limit_overlap_by_at_most_the_overlap_and_cover_every_word_in_order()
    {
        var text = Numbered(1000);

        var chunks = TokenChunker.Chunk(text, Words, maxTokens: 100, overlapTokens: 20);

        Assert.All(chunks, c => Assert.InRange(c.Tokens, 1, 100));
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Index));
        for (var i = 1; i < chunks.Count; i++)
        {
            var previous = chunks[i - 1].Text.Split(' ');
            var current = chunks[i].Text.Split(' ');
            var shared = previous.Intersect(current).Count();
            Assert.Equal(20, shared); // whole words: exactly the overlap here
            Assert.Equal(previous[^20], current[0]);
        }

        var covered = chunks.SelectMany(c => c.Text.Split(' ')).Distinct().ToList();
        Assert.Equal(text.Split(' '), covered);
        Assert.Equal(13, chunks.Count); // 100 new words first, then 80 per chunk: 1 + ceil(900 / 80)
    }

    [Fact]
    public void Without_overlap_chunks_partition_the_text()
    {
        var text = Numbered(250);

        var chunks = TokenChunker.Chunk(text, Words, 100, 0);

        Assert.Equal([100, 100, 50], chunks.Select(c => c.Tokens));
        Assert.Equal(text, string.Join(" ", chunks.Select(c => c.Text)));
    }

    [Fact]
    public void A_word_longer_than_a_chunk_is_split_and_no_chunk_exceeds_the_limit()
    {
        var longWord = new string('x', 1000);
        var text = "start " + longWord + " end";

        var chunks = TokenChunker.Chunk(text, Characters, 100, 10);

        Assert.All(chunks, c => Assert.InRange(Characters(c.Text), 1, 100));
        Assert.Contains(chunks, c => c.Text.StartsWith("start", StringComparison.Ordinal));
        Assert.Contains(chunks, c => c.Text.EndsWith("end", StringComparison.Ordinal));
        Assert.True(chunks.Sum(c => c.Text.Count(ch => ch == 'x')) >= 1000);
    }

    [Fact]
    public void A_tokenizer_that_counts_more_for_the_whole_than_for_its_words_still_gets_chunks_within_the_limit()
    {
        // A tenth more for longer texts, as if the tokenizer merged worse across words: per-word sums underestimate.
        static int Superadditive(string text) => Words(text) + (Words(text) / 10);
        var chunks = TokenChunker.Chunk(Numbered(300), Superadditive, 50, 5);

        Assert.All(chunks, c => Assert.InRange(Superadditive(c.Text), 1, 50));
        Assert.Equal(46, Words(chunks[0].Text)); // 50 words measure 55: trimmed to 46, which measure 50
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n\t ")]
    public void Empty_text_has_no_chunks(string text) => Assert.Empty(TokenChunker.Chunk(text, Words, 100, 10));

    [Fact]
    public void Text_with_surrogate_pairs_is_never_split_inside_a_pair()
    {
        var text = string.Concat(Enumerable.Repeat("😀", 300));

        var chunks = TokenChunker.Chunk(text, Characters, 100, 0);

        Assert.All(chunks, c => Assert.False(char.IsLowSurrogate(c.Text[0]) || char.IsHighSurrogate(c.Text[^1]), c.Text));
        Assert.Equal(text, string.Concat(chunks.Select(c => c.Text)));
    }

    [GeneratedRegex(@"\S+")]
    private static partial Regex WordPattern();
}
