using InferenceMesh.Classifier.Model;

namespace InferenceMesh.Classifier.Tests.Model;

public sealed class PromptFeaturiserTests
{
    private static float[] Featurise(string text)
    {
        var vector = new float[PromptFeaturiser.Width];
        PromptFeaturiser.Featurise(text, vector);
        return vector;
    }

    private static int[] NonZero(float[] vector, int from, int to) =>
        Enumerable.Range(from, to - from).Where(i => vector[i] != 0f).ToArray();

    [Fact]
    public void Same_text_gives_the_same_vector_and_the_destination_is_cleared_first()
    {
        var text = "Summarise ticket PLAT-1234 for the Bluefin team.\nThanks!";
        var reused = Enumerable.Repeat(9f, PromptFeaturiser.Width).ToArray();
        PromptFeaturiser.Featurise(text, reused);

        Assert.Equal(Featurise(text), reused);
    }

    [Fact]
    public void Hashed_blocks_are_unit_norm_halves_and_dense_features_are_in_range()
    {
        var vector = Featurise("def f(x):\n    return {x: [1, 2, 3]}  # a small snippet with 42 digits 12345");

        var words = vector.AsSpan(0, PromptFeaturiser.WordBuckets).ToArray().Sum(v => v * v);
        var chars = vector.AsSpan(PromptFeaturiser.WordBuckets, PromptFeaturiser.CharBuckets).ToArray().Sum(v => v * v);
        Assert.Equal(0.5, words, 4);
        Assert.Equal(0.5, chars, 4);
        Assert.All(vector[PromptFeaturiser.HashedWidth..], v => Assert.InRange(v, 0f, 1f));
        Assert.True(vector[PromptFeaturiser.HashedWidth + 5] > 0f, "code-symbol density");
        Assert.True(vector[PromptFeaturiser.HashedWidth + 6] > 0f, "digit density");
    }

    [Fact]
    public void Case_digits_and_whitespace_are_normalised()
    {
        Assert.Equal(Featurise("Call 555 0199 now").AsSpan(0, PromptFeaturiser.HashedWidth).ToArray(),
            Featurise("call   123\t4567 NOW").AsSpan(0, PromptFeaturiser.HashedWidth).ToArray());
    }

    [Fact]
    public void Empty_text_has_only_the_length_bucket()
    {
        var vector = Featurise("");

        Assert.Equal([PromptFeaturiser.HashedWidth + 1], NonZero(vector, 0, vector.Length));
    }

    [Fact]
    public void Very_long_text_is_featurised_from_its_head_and_tail()
    {
        var text = "begin " + new string('x', 100_000) + " the secret password is at the very end";
        var vector = Featurise(text);

        // The tail's words are present: the bucket of the unigram "password" is set.
        var tailOnly = Featurise("password");
        var passwordBucket = NonZero(tailOnly, 0, PromptFeaturiser.WordBuckets).Single();
        Assert.True(vector[passwordBucket] > 0f);
        Assert.Equal(1f, vector[PromptFeaturiser.HashedWidth + 4]); // the length bucket sees the whole text
    }

    [Fact]
    public void Destination_of_the_wrong_size_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => PromptFeaturiser.Featurise("x", new float[10]));
        Assert.Contains($"exactly {PromptFeaturiser.Width} floats", ex.Message);
    }

    // Golden values: if one of these changes, the featuriser changed. Bump PromptFeaturiser.Version,
    // retrain the model (docs/classifier.md) and only then update these numbers.
    [Fact]
    public void Golden_bucket_indices_are_stable()
    {
        var vector = Featurise("Hello world");

        Assert.Equal(GoldenWordBuckets, NonZero(vector, 0, PromptFeaturiser.WordBuckets));
        Assert.Equal(GoldenCharBuckets, string.Join(',', NonZero(vector, PromptFeaturiser.WordBuckets, PromptFeaturiser.HashedWidth)));
    }

    [Fact]
    public void Golden_fingerprint_is_stable()
    {
        Assert.Equal(GoldenFingerprint, PromptFeaturiser.Fingerprint);
    }

    private static readonly int[] GoldenWordBuckets = [313, 1165, 1646];
    private const string GoldenCharBuckets =
        "2168,2387,2408,2474,2557,2590,2614,2636,2799,2826,2871,2876,3014,3015,3044,3055,3174,3337,3383,3529,3559,3691,3754,3775,3789,3808,3874,3910,3929,3947";
    private const string GoldenFingerprint = "1a855e90";
}
