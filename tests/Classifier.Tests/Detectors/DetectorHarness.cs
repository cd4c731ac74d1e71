using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

/// <summary>Runs one detector (or the whole pipeline) and returns what it found as the substrings at each span.</summary>
internal static class DetectorHarness
{
    public static IReadOnlyList<Finding> Run(IDetector detector, string text)
    {
        var sink = new FindingSink();
        detector.Detect(text, TextProfile.Of(text), sink);
        return sink.ToOrderedList();
    }

    /// <summary>The text at each finding's span, in order.</summary>
    public static string[] Found(IDetector detector, string text) =>
        Run(detector, text).Select(f => text.Substring(f.Start, f.Length)).ToArray();

    public static string[] Found(IDetector detector, string text, FindingKind kind) =>
        Run(detector, text).Where(f => f.Kind == kind).Select(f => text.Substring(f.Start, f.Length)).ToArray();

    /// <summary>The value planted in a few kinds of surrounding text, each of which must yield exactly the value.</summary>
    public static void AssertFindsExactly(IDetector detector, string value, FindingKind kind)
    {
        string[] contexts =
        [
            value,
            $"Here it is: {value}. Thanks!",
            $"line one\n{value}\nline three",
            $"(\"{value}\")",
        ];
        foreach (var text in contexts)
        {
            var findings = Run(detector, text);
            var finding = Assert.Single(findings);
            Assert.Equal(kind, finding.Kind);
            Assert.Equal(value, text.Substring(finding.Start, finding.Length));
        }
    }
}
