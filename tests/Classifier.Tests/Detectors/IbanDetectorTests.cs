using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class IbanDetectorTests
{
    private static readonly IbanDetector Detector = new();

    [Theory]
    [InlineData("GB82 WEST 1234 5698 7654 32")]
    [InlineData("GB82WEST12345698765432")]
    [InlineData("DE89 3704 0044 0532 0130 00")]
    [InlineData("FR14 2004 1010 0505 0001 3M02 606")]
    [InlineData("NL91 ABNA 0417 1643 00")]
    [InlineData("BE68 5390 0754 7034")]
    [InlineData("CH93 0076 2011 6238 5295 7")]
    [InlineData("ES91 2100 0418 4502 0005 1332")]
    [InlineData("NO93 8601 1117 947")]
    public void Finds_ibans_with_exact_spans(string iban) =>
        DetectorHarness.AssertFindsExactly(Detector, iban, FindingKind.Iban);

    [Theory]
    [InlineData("GB82 WEST 1234 5698 7654 33")]   // bad check
    [InlineData("GB83 WEST 1234 5698 7654 32")]
    [InlineData("GB82 WEST 1234 5698 7654 3")]    // too short for GB
    [InlineData("GB82WEST123456987654321")]       // too long for GB
    [InlineData("QQ82 WEST 1234 5698 7654 32")]   // not a country in the table
    [InlineData("GB82 WE ST12 3456 9876 5432")]   // not printed in fours
    [InlineData("XGB82WEST12345698765432")]
    [InlineData("ISO 8601 and RFC 3339 timestamps")]
    public void Ignores_invalid_ibans(string text) =>
        Assert.Empty(DetectorHarness.Found(Detector, text));

    [Fact]
    public void The_span_stops_at_the_country_length_before_following_words()
    {
        const string text = "Pay to GB82 WEST 1234 5698 7654 32 ASAP please";
        Assert.Equal(["GB82 WEST 1234 5698 7654 32"], DetectorHarness.Found(Detector, text));
    }
}
