using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class ConfidentialityMarkerDetectorTests
{
    private static readonly ConfidentialityMarkerDetector Detector = new();

    [Theory]
    [InlineData("CONFIDENTIAL", PrivacyLevel.Confidential)]
    [InlineData("Confidential", PrivacyLevel.Confidential)]
    [InlineData("internal only", PrivacyLevel.Internal)]
    [InlineData("Internal Use Only", PrivacyLevel.Internal)]
    [InlineData("for internal use only", PrivacyLevel.Internal)]
    [InlineData("under NDA", PrivacyLevel.Confidential)]
    [InlineData("Under an NDA", PrivacyLevel.Confidential)]
    [InlineData("Attorney-Client Privileged", PrivacyLevel.Confidential)]
    [InlineData("legally privileged", PrivacyLevel.Confidential)]
    [InlineData("Privileged & Confidential", PrivacyLevel.Confidential)]
    [InlineData("Do Not Distribute", PrivacyLevel.Confidential)]
    [InlineData("PRIVILEGED", PrivacyLevel.Confidential)]
    [InlineData("Top Secret", PrivacyLevel.Restricted)]
    [InlineData("top-secret", PrivacyLevel.Restricted)]
    [InlineData("Strictly Confidential", PrivacyLevel.Restricted)]
    [InlineData("SECRET", PrivacyLevel.Restricted)]
    [InlineData("RESTRICTED", PrivacyLevel.Restricted)]
    [InlineData("Classification: restricted", PrivacyLevel.Restricted)]
    public void Finds_markers_with_their_levels(string marker, PrivacyLevel level)
    {
        DetectorHarness.AssertFindsExactly(Detector, marker, FindingKind.ConfidentialityMarker);
        Assert.Equal(level, ConfidentialityMarkerDetector.LevelOf(marker));

        var sink = new FindingSink();
        var text = $"[{marker}] quarterly numbers";
        Detector.Detect(text, TextProfile.Of(text), sink);
        Assert.Equal(level, sink.Level);
    }

    [Theory]
    [InlineData("the secret to good bread is time")]
    [InlineData("access is restricted to admins")]
    [InlineData("run the container in --privileged mode")]
    [InlineData("a confidentiality agreement")]
    [InlineData("internally we use only Go")]
    [InlineData("the undersecretary spoke")]
    [InlineData("nondisclosure")]
    [InlineData("client_secret")]
    public void Ignores_everyday_words(string text) =>
        Assert.Empty(DetectorHarness.Found(Detector, text));
}
