using System.Text.RegularExpressions;

namespace InferenceMesh.ContextStore.Rag.Chunking;

/// <summary>One chunk of a file: its position, its text (a contiguous span of the source) and its token count.</summary>
public sealed record TextChunk(int Index, string Text, int Tokens);

/// <summary>
/// Token-aware chunking with overlap (OpenAI's "static" strategy): the text is cut into words (each with the
/// whitespace before it), each word is measured with the embedding model's tokenizer, and chunks take as many whole
/// words as fit in <c>maxTokens</c>; the next chunk starts so that it repeats at most <c>overlapTokens</c> tokens of
/// the previous one. A word longer than a chunk is split by characters. Every chunk is measured again as a whole and
/// trimmed if the tokenizer merged across words, so no chunk exceeds the limit.
/// </summary>
public static partial class TokenChunker
{
    public static IReadOnlyList<TextChunk> Chunk(string text, Func<string, int> countTokens, int maxTokens, int overlapTokens, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(countTokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(overlapTokens);

        var segments = Segment(text, countTokens, maxTokens, cancellationToken);
        var chunks = new List<TextChunk>();
        var start = 0;
        while (start < segments.Count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var end = start;
            var sum = 0;
            while (end < segments.Count && sum + segments[end].Tokens <= maxTokens)
            {
                sum += segments[end].Tokens;
                end++;
            }

            end = Math.Max(end, start + 1); // a segment never exceeds maxTokens, so this only guards the loop
            var chunkText = Span(text, segments, start, end);
            var tokens = countTokens(chunkText);
            while (tokens > maxTokens && end > start + 1)
            {
                end--;
                chunkText = Span(text, segments, start, end);
                tokens = countTokens(chunkText);
            }

            if (chunkText.Length > 0)
            {
                chunks.Add(new TextChunk(chunks.Count, chunkText, tokens));
            }

            if (end >= segments.Count)
            {
                break;
            }

            var next = end;
            var overlap = 0;
            while (next - 1 > start && overlap + segments[next - 1].Tokens <= overlapTokens)
            {
                overlap += segments[next - 1].Tokens;
                next--;
            }

            start = next;
        }

        return chunks;
    }

    private static string Span(string text, List<Piece> segments, int start, int end) =>
        text[segments[start].Start..(segments[end - 1].Start + segments[end - 1].Length)].Trim();

    private readonly record struct Piece(int Start, int Length, int Tokens);

    private static List<Piece> Segment(string text, Func<string, int> countTokens, int maxTokens, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal); // words repeat: measure each once
        var pieces = new List<Piece>();
        foreach (var match in Words().EnumerateMatches(text))
        {
            if (pieces.Count % 4096 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            AddPiece(text, match.Index, match.Length, countTokens, maxTokens, counts, pieces);
        }

        return pieces;
    }

    private static void AddPiece(string text, int start, int length, Func<string, int> countTokens, int maxTokens, Dictionary<string, int> counts, List<Piece> pieces)
    {
        var word = text.Substring(start, length);
        if (!counts.TryGetValue(word, out var tokens))
        {
            tokens = countTokens(word);
            if (counts.Count < 1_000_000)
            {
                counts[word] = tokens;
            }
        }

        if (tokens <= maxTokens || length < 2)
        {
            pieces.Add(new Piece(start, length, Math.Min(tokens, maxTokens)));
            return;
        }

        // A "word" longer than a chunk (a URL, base64, a language without spaces): halve it, never inside a surrogate pair.
        var half = length / 2;
        if (char.IsHighSurrogate(text[start + half - 1]))
        {
            half++;
        }

        if (half >= length)
        {
            pieces.Add(new Piece(start, length, maxTokens));
            return;
        }

        AddPiece(text, start, half, countTokens, maxTokens, counts, pieces);
        AddPiece(text, start + half, length - half, countTokens, maxTokens, counts, pieces);
    }

    [GeneratedRegex(@"\s*\S+", RegexOptions.CultureInvariant)]
    private static partial Regex Words();
}
