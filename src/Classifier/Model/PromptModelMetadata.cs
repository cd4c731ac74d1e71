using System.Globalization;

namespace InferenceMesh.Classifier.Model;

/// <summary>
/// The contract between an exported model and this runtime: tensor names, label names and the
/// featuriser settings written into the ONNX file's metadata_props. The exporter writes
/// <see cref="Expected"/>; the runtime refuses a model whose values differ.
/// </summary>
internal static class PromptModelMetadata
{
    public const string InputName = "features";
    public const string PrivacyOutput = "privacy";
    public const string TaskOutput = "task";
    public const string ComplexityOutput = "complexity";

    private const string Prefix = "inference_mesh.";
    public const string FeaturiserVersionKey = Prefix + "featuriser.version";
    public const string FeaturiserHashKey = Prefix + "featuriser.hash";
    public const string WordBucketsKey = Prefix + "featuriser.word_buckets";
    public const string CharBucketsKey = Prefix + "featuriser.char_buckets";
    public const string WordNgramsKey = Prefix + "featuriser.word_ngrams";
    public const string CharNgramsKey = Prefix + "featuriser.char_ngrams";
    public const string DenseKey = Prefix + "featuriser.dense";
    public const string FingerprintKey = Prefix + "featuriser.fingerprint";
    public const string InputWidthKey = Prefix + "input_width";
    public const string PrivacyLabelsKey = Prefix + "labels.privacy";
    public const string TaskLabelsKey = Prefix + "labels.task";
    public const string ComplexityLabelsKey = Prefix + "labels.complexity";

    // Informational: written by the trainer, not validated.
    public const string TrainingSeedKey = Prefix + "training.seed";
    public const string DatasetVersionKey = Prefix + "dataset.version";
    public const string HiddenUnitsKey = Prefix + "training.hidden_units";

    public static IReadOnlyList<string> PrivacyLabels { get; } = Labels<PrivacyLevel>();
    public static IReadOnlyList<string> TaskLabels { get; } = Labels<TaskType>();
    public static IReadOnlyList<string> ComplexityLabels { get; } = Labels<Complexity>();

    /// <summary>Every key the runtime validates, with the value this build's featuriser and contracts need.</summary>
    public static IReadOnlyDictionary<string, string> Expected { get; } = new Dictionary<string, string>
    {
        [FeaturiserVersionKey] = PromptFeaturiser.Version.ToString(CultureInfo.InvariantCulture),
        [FeaturiserHashKey] = PromptFeaturiser.HashName,
        [WordBucketsKey] = PromptFeaturiser.WordBuckets.ToString(CultureInfo.InvariantCulture),
        [CharBucketsKey] = PromptFeaturiser.CharBuckets.ToString(CultureInfo.InvariantCulture),
        [WordNgramsKey] = "1-2",
        [CharNgramsKey] = $"{PromptFeaturiser.MinCharNgram}-{PromptFeaturiser.MaxCharNgram}",
        [DenseKey] = PromptFeaturiser.DenseWidth.ToString(CultureInfo.InvariantCulture),
        [FingerprintKey] = PromptFeaturiser.Fingerprint,
        [InputWidthKey] = PromptFeaturiser.Width.ToString(CultureInfo.InvariantCulture),
        [PrivacyLabelsKey] = string.Join(',', PrivacyLabels),
        [TaskLabelsKey] = string.Join(',', TaskLabels),
        [ComplexityLabelsKey] = string.Join(',', ComplexityLabels),
    };

    /// <summary>The mismatches between a model's metadata and <see cref="Expected"/>, one readable line each.</summary>
    public static IReadOnlyList<string> FindMismatches(IReadOnlyDictionary<string, string> actual)
    {
        var problems = new List<string>();
        foreach (var (key, expected) in Expected)
        {
            if (!actual.TryGetValue(key, out var value))
            {
                problems.Add($"'{key}' is missing (expected '{expected}')");
            }
            else if (!string.Equals(value, expected, StringComparison.Ordinal))
            {
                problems.Add($"'{key}' is '{value}', expected '{expected}'");
            }
        }

        return problems;
    }

    private static string[] Labels<T>()
        where T : struct, Enum =>
        Enum.GetValues<T>().OrderBy(v => Convert.ToInt32(v, CultureInfo.InvariantCulture))
            .Select(v => v.ToString().ToLowerInvariant()).ToArray();
}
