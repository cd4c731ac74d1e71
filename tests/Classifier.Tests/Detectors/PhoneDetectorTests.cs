using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class PhoneDetectorTests
{
    private static readonly PhoneDetector Detector = new();

    [Theory]
    [InlineData("+14155552671")]
    [InlineData("+1 415 555 2671")]
    [InlineData("+1 (415) 555-2671")]
    [InlineData("+44 20 7946 0958")]
    [InlineData("+44 (0)20 7946 0958")]
    [InlineData("+49 30 901820")]
    [InlineData("+33 1 23 45 67 89")]
    [InlineData("+31-20-555-1234")]
    [InlineData("+81.3.1234.5678")]
    [InlineData("(415) 555-2671")]
    [InlineData("415-555-2671")]
    public void Finds_international_and_north_american_formats(string phone) =>
        DetectorHarness.AssertFindsExactly(Detector, phone, FindingKind.Phone);

    [Theory]
    [InlineData("order 123456789012")]
    [InlineData("released 2024-01-15, build 20240115")]
    [InlineData("version 1.2.3.4567")]
    [InlineData("tz +05:30")]
    [InlineData("+2024-01-15")]
    [InlineData("+1234567")]
    [InlineData("+1234567890123456")]
    [InlineData("x+12345678")]
    [InlineData("+1.2.3.4.5.6.7.8")]
    [InlineData("C++14 and +0 123 456 789")]
    [InlineData("123-456-7890")]
    [InlineData("+12345678abc")]
    public void Ignores_numbers_that_are_not_phones(string text) =>
        Assert.Empty(DetectorHarness.Found(Detector, text));

    [Fact]
    public void International_and_national_forms_of_one_number_count_once()
    {
        const string text = "Call +1 (415) 555-2671 today";
        Assert.Equal(["+1 (415) 555-2671"], DetectorHarness.Found(Detector, text));
    }

    [Fact]
    public void Stops_at_double_separators()
    {
        const string text = "+44 20 7946 0958 - ext 12";
        Assert.Equal(["+44 20 7946 0958"], DetectorHarness.Found(Detector, text));
    }
}
