using System.Text;

namespace InferenceMesh.Bench.Rag;

/// <summary>
/// Deterministic synthetic text: a vocabulary of pronounceable made-up words drawn with a Zipf-like distribution
/// (a few words are very common, most are rare), so full-text posting lists look like those of real prose.
/// </summary>
internal sealed class Corpus
{
    private static readonly string[] Syllables = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "ni", "pa", "qui", "ba", "zu", "fen", "gri", "ol", "ter", "ush", "wy", "cha"];

    private readonly string[] _words;
    private readonly double[] _cumulative;
    private readonly Random _random;

    public Corpus(int seed, int vocabulary = 5000)
    {
        _random = new Random(seed);
        var words = new HashSet<string>(StringComparer.Ordinal);
        while (words.Count < vocabulary)
        {
            var builder = new StringBuilder();
            for (var i = 0; i < 2 + _random.Next(3); i++)
            {
                builder.Append(Syllables[_random.Next(Syllables.Length)]);
            }

            words.Add(builder.ToString());
        }

        _words = [.. words];
        _cumulative = new double[_words.Length];
        double sum = 0;
        for (var i = 0; i < _words.Length; i++)
        {
            sum += 1.0 / (i + 1);
            _cumulative[i] = sum;
        }

        for (var i = 0; i < _cumulative.Length; i++)
        {
            _cumulative[i] /= sum;
        }
    }

    public string Word()
    {
        var index = Array.BinarySearch(_cumulative, _random.NextDouble());
        return _words[index < 0 ? ~index : index];
    }

    /// <summary>Sentences of 6-14 words, <paramref name="words"/> words in all.</summary>
    public string Text(int words)
    {
        var text = new StringBuilder();
        var inSentence = 0;
        var length = 6 + _random.Next(9);
        for (var i = 0; i < words; i++)
        {
            var word = Word();
            text.Append(inSentence == 0 ? char.ToUpperInvariant(word[0]) + word[1..] : word);
            if (++inSentence == length)
            {
                text.Append(". ");
                inSentence = 0;
                length = 6 + _random.Next(9);
            }
            else
            {
                text.Append(' ');
            }
        }

        return text.ToString().TrimEnd() + ".";
    }

    /// <summary>A query of a few words (mostly rarer ones, as people search).</summary>
    public string Query() => string.Join(' ', Enumerable.Range(0, 2 + _random.Next(3)).Select(_ => _words[50 + _random.Next(_words.Length - 50)]));

    public float[] UnitVector(int dimensions)
    {
        var vector = new float[dimensions];
        for (var i = 0; i < dimensions; i++)
        {
            // Box-Muller: normal components give directions uniform on the sphere.
            vector[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble()));
        }

        var norm = MathF.Sqrt(vector.Sum(v => v * v));
        for (var i = 0; i < dimensions; i++)
        {
            vector[i] /= norm;
        }

        return vector;
    }
}
