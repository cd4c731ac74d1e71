using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace InferenceMesh.Classifier.Model;

/// <summary>
/// Turns a prompt into the model's input vector. The ONE implementation, shared by the runtime
/// (<see cref="OnnxPromptModel"/>) and the trainer (tools/ClassifierTraining), so training and serving
/// can never drift apart. Any change to what it emits must bump <see cref="Version"/>; the golden tests
/// and the model's metadata fingerprint catch a change that forgot to.
/// </summary>
/// <remarks>
/// Layout of the vector (<see cref="Width"/> floats):
/// <list type="bullet">
/// <item>[0, <see cref="WordBuckets"/>): word unigrams and bigrams, hashed, sublinear TF (1 + ln tf), L2-normalised, scaled by 1/√2.</item>
/// <item>[<see cref="WordBuckets"/>, <see cref="HashedWidth"/>): character 3–5-grams, same treatment.</item>
/// <item>[<see cref="HashedWidth"/>, <see cref="Width"/>): <see cref="DenseWidth"/> dense features in [0, 1].</item>
/// </list>
/// Text is normalised first: lower-cased (invariant), every digit mapped to '0', whitespace runs
/// collapsed to one space, padded with a space at both ends. Hash: 32-bit FNV-1a over UTF-16 code
/// units followed by the murmur3 finaliser, with a different seed for words, bigrams and characters.
/// Only the first <see cref="HeadChars"/> and last <see cref="TailChars"/> characters are hashed, which
/// bounds the cost of a huge prompt; the dense features see the whole text.
/// Allocation-free apart from one pooled buffer; thread-safe (no shared state).
/// </remarks>
internal static class PromptFeaturiser
{
    /// <summary>Bump on any change to the emitted vector.</summary>
    public const int Version = 1;

    public const int WordBuckets = 2048;
    public const int CharBuckets = 2048;
    public const int HashedWidth = WordBuckets + CharBuckets;
    public const int DenseWidth = 8;
    public const int Width = HashedWidth + DenseWidth;

    public const int MinCharNgram = 3;
    public const int MaxCharNgram = 5;

    /// <summary>Characters hashed from the start of the text.</summary>
    public const int HeadChars = 12_288;

    /// <summary>Characters hashed from the end of the text, when it is longer than <see cref="HeadChars"/>.</summary>
    public const int TailChars = 4_096;

    public const string HashName = "fnv1a32-utf16+fmix32";

    internal const uint WordSeed = 0x811C9DC5;   // the FNV offset basis
    internal const uint BigramSeed = 0x9E3779B9;
    internal const uint CharSeed = 0x85EBCA6B;
    private const uint FnvPrime = 0x01000193;

    private const string CodeSymbols = "{}()[];=<>/\\*&|#$`~^";

    private static readonly bool[] IsCodeSymbol = CodeSymbolTable();

    /// <summary>1 + ln(k) for small counts k: the sublinear TF without a log call per bucket.</summary>
    private static readonly float[] SublinearTable = Enumerable.Range(0, 256).Select(k => k == 0 ? 0f : 1f + MathF.Log(k)).ToArray();

    /// <summary>A fixed text whose feature vector is hashed into <see cref="Fingerprint"/>.</summary>
    internal const string FingerprintProbe =
        "Fingerprint probe v1: Summarise ticket PLAT-4821 for Ana (ana@example.com).\n" +
        "```python\ndef f(x): return {x: [1, 2, 3]}  # password=hunter2\n```\nÜber naïve café — 日本語 テスト!";

    private static readonly Lazy<string> LazyFingerprint = new(ComputeFingerprint);

    /// <summary>
    /// A short hex digest of the vector this featuriser produces for <see cref="FingerprintProbe"/>.
    /// Stored in the model's metadata: a model trained with a different featuriser is refused.
    /// </summary>
    public static string Fingerprint => LazyFingerprint.Value;

    /// <summary>The names of the dense features, in order (for the docs and the report).</summary>
    public static IReadOnlyList<string> DenseFeatureNames { get; } =
    [
        "log-length", "length<120", "length<600", "length<2400", "length>=2400",
        "code-symbol density", "digit density", "log-newlines",
    ];

    /// <summary>Writes the feature vector of <paramref name="text"/> into <paramref name="destination"/> (cleared first).</summary>
    public static void Featurise(ReadOnlySpan<char> text, Span<float> destination)
    {
        if (destination.Length != Width)
        {
            throw new ArgumentException($"The destination must hold exactly {Width} floats.", nameof(destination));
        }

        destination.Clear();

        var hashedLength = text.Length <= HeadChars + TailChars ? text.Length : HeadChars + TailChars + 1;
        var rented = ArrayPool<char>.Shared.Rent(hashedLength + 2);
        try
        {
            int n;
            if (text.Length <= HeadChars + TailChars)
            {
                n = Normalise(text, rented);
            }
            else
            {
                // Both segments are space-padded: the tail's leading space overwrites the head's trailing one.
                n = Normalise(text[..HeadChars], rented) - 1;
                n += Normalise(text[^TailChars..], rented.AsSpan(n));
            }

            var normalised = rented.AsSpan(0, n);
            var words = destination[..WordBuckets];
            var chars = destination.Slice(WordBuckets, CharBuckets);
            AddWordNgrams(normalised, words);
            AddCharNgrams(normalised, chars);
            const float half = 0.70710678f; // each block gets half the squared norm
            SublinearAndNormalise(words, half);
            SublinearAndNormalise(chars, half);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(rented);
        }

        AddDense(text, destination[HashedWidth..]);
    }

    /// <summary>Lower-cases, maps digits to '0', collapses whitespace; writes " text " into <paramref name="buffer"/>.</summary>
    private static int Normalise(ReadOnlySpan<char> text, Span<char> buffer)
    {
        var n = 0;
        buffer[n++] = ' ';
        var previousSpace = true;
        foreach (var c in text)
        {
            char m;
            if (char.IsWhiteSpace(c))
            {
                if (previousSpace)
                {
                    continue;
                }

                m = ' ';
            }
            else if (char.IsDigit(c))
            {
                m = '0';
            }
            else
            {
                m = char.ToLowerInvariant(c);
            }

            buffer[n++] = m;
            previousSpace = m == ' ';
        }

        if (!previousSpace)
        {
            buffer[n++] = ' ';
        }

        return n;
    }

    private static void AddWordNgrams(ReadOnlySpan<char> text, Span<float> counts)
    {
        const int mask = WordBuckets - 1;
        uint previous = 0;
        var hasPrevious = false;
        var i = 0;
        while (i < text.Length)
        {
            if (!IsWordChar(text[i]))
            {
                i++;
                continue;
            }

            var h = WordSeed;
            while (i < text.Length && IsWordChar(text[i]))
            {
                h = (h ^ text[i]) * FnvPrime;
                i++;
            }

            counts[(int)(Mix(h) & mask)] += 1f;
            if (hasPrevious)
            {
                counts[(int)(Mix(((previous ^ BigramSeed) * FnvPrime) ^ h) & mask)] += 1f;
            }

            previous = h;
            hasPrevious = true;
        }
    }

    private static void AddCharNgrams(ReadOnlySpan<char> text, Span<float> counts)
    {
        const int mask = CharBuckets - 1;
        for (var start = 0; start + MinCharNgram <= text.Length; start++)
        {
            var h = CharSeed;
            var end = Math.Min(text.Length, start + MaxCharNgram);
            for (var k = start; k < end; k++)
            {
                h = (h ^ text[k]) * FnvPrime;
                if (k - start + 1 >= MinCharNgram)
                {
                    counts[(int)(Mix(h) & mask)] += 1f;
                }
            }
        }
    }

    /// <remarks>
    /// Most buckets are empty: whole vectors of zeros are skipped, and the non-zero buckets are visited in index order,
    /// so the sum of squares (and so every output bit) is the same as a plain loop over every bucket.
    /// </remarks>
    private static void SublinearAndNormalise(Span<float> block, float scale)
    {
        var sumSquares = 0f;
        var width = Vector<float>.Count;
        var i = 0;
        for (; i <= block.Length - width; i += width)
        {
            if (Vector.EqualsAll(new Vector<float>(block.Slice(i, width)), Vector<float>.Zero))
            {
                continue;
            }

            for (var k = i; k < i + width; k++)
            {
                Sublinear(block, k, ref sumSquares);
            }
        }

        for (; i < block.Length; i++)
        {
            Sublinear(block, i, ref sumSquares);
        }

        if (sumSquares > 0f)
        {
            var factor = scale / MathF.Sqrt(sumSquares);
            var factors = new Vector<float>(factor);
            i = 0;
            for (; i <= block.Length - width; i += width)
            {
                var slice = block.Slice(i, width);
                (new Vector<float>(slice) * factors).CopyTo(slice);
            }

            for (; i < block.Length; i++)
            {
                block[i] *= factor;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sublinear(Span<float> block, int i, ref float sumSquares)
    {
        var c = block[i];
        if (c > 0f)
        {
            var v = c < SublinearTable.Length ? SublinearTable[(int)c] : 1f + MathF.Log(c);
            block[i] = v;
            sumSquares += v * v;
        }
    }

    private static void AddDense(ReadOnlySpan<char> text, Span<float> dense)
    {
        int symbols = 0, digits = 0, newlines = 0;
        foreach (var c in text)
        {
            if (c == '\n')
            {
                newlines++;
            }
            else if (char.IsAsciiDigit(c))
            {
                digits++;
            }
            else if (c < 128 && IsCodeSymbol[c])
            {
                symbols++;
            }
        }

        var length = text.Length;
        dense[0] = MathF.Min(1f, MathF.Log(1f + length) / MathF.Log(1f + 16_384f));
        dense[length < 120 ? 1 : length < 600 ? 2 : length < 2400 ? 3 : 4] = 1f;
        var perChar = length == 0 ? 0f : 1f / length;
        dense[5] = MathF.Min(1f, 4f * symbols * perChar);
        dense[6] = MathF.Min(1f, 4f * digits * perChar);
        dense[7] = MathF.Min(1f, MathF.Log(1f + newlines) / MathF.Log(65f));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    /// <summary>The murmur3 32-bit finaliser: spreads FNV's weak low bits over the bucket mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85EBCA6B;
        h ^= h >> 13;
        h *= 0xC2B2AE35;
        h ^= h >> 16;
        return h;
    }

    private static bool[] CodeSymbolTable()
    {
        var table = new bool[128];
        foreach (var c in CodeSymbols)
        {
            table[c] = true;
        }

        return table;
    }

    private static string ComputeFingerprint()
    {
        var vector = new float[Width];
        Featurise(FingerprintProbe, vector);
        var h = 0x811C9DC5u;
        for (var i = 0; i < vector.Length; i++)
        {
            if (vector[i] == 0f)
            {
                continue;
            }

            // Rounded to 1e-4 so that a different (but equally valid) float rounding is not a mismatch.
            var q = (uint)(int)MathF.Round(vector[i] * 10_000f);
            h = (h ^ (uint)i) * FnvPrime;
            h = (h ^ q) * FnvPrime;
        }

        return h.ToString("x8", CultureInfo.InvariantCulture);
    }
}
