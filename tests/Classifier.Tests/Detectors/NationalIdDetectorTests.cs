using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class NationalIdDetectorTests
{
    [Theory]
    [InlineData("123-45-6789")]
    [InlineData("078-05-1120")]
    [InlineData("665 12 3456")]
    [InlineData("899-99-9999")]
    public void Us_ssn_found(string ssn) =>
        DetectorHarness.AssertFindsExactly(new UsSsnDetector(), ssn, FindingKind.NationalId);

    [Theory]
    [InlineData("000-12-3456")]   // area 000
    [InlineData("666-12-3456")]   // area 666
    [InlineData("912-12-3456")]   // area 9xx
    [InlineData("123-00-4567")]   // group 00
    [InlineData("123-45-0000")]   // serial 0000
    [InlineData("123-45 6789")]   // mixed separators
    [InlineData("123456789")]     // bare digits without the keyword
    [InlineData("2024-01-15")]
    [InlineData("ISBN 978-3-16-148410-0")]
    [InlineData("part 123-45-6789-01")]
    public void Us_ssn_near_misses_ignored(string text) =>
        Assert.Empty(DetectorHarness.Found(new UsSsnDetector(), text));

    [Theory]
    [InlineData("SSN: 123456789")]
    [InlineData("Social Security Number 123456789")]
    [InlineData("ssn#123456789")]
    public void Us_ssn_bare_digits_found_after_keyword(string text) =>
        Assert.Equal(["123456789"], DetectorHarness.Found(new UsSsnDetector(), text));

    [Fact]
    public void Us_ssn_bare_digits_after_keyword_still_follow_the_rules() =>
        Assert.Empty(DetectorHarness.Found(new UsSsnDetector(), "SSN: 666123456"));

    [Theory]
    [InlineData("AB 12 34 56 C")]
    [InlineData("AB123456C")]
    [InlineData("JG103759A")]
    [InlineData("CE 98 76 54 D")]
    public void Uk_nino_found(string nino) =>
        DetectorHarness.AssertFindsExactly(new UkNinoDetector(), nino, FindingKind.NationalId);

    [Theory]
    [InlineData("GB 12 34 56 A")]   // reserved prefix
    [InlineData("DA123456A")]       // D never first
    [InlineData("AO123456A")]       // O never second
    [InlineData("QQ123456C")]       // Q never first (HMRC's example prefix)
    [InlineData("AB123456E")]       // suffix beyond D
    [InlineData("ab123456c")]
    [InlineData("XAB123456C")]
    public void Uk_nino_near_misses_ignored(string text) =>
        Assert.Empty(DetectorHarness.Found(new UkNinoDetector(), text));

    [Theory]
    [InlineData("BSN: 111222333", "111222333")]
    [InlineData("mijn burgerservicenummer is 1234.56.782", "1234.56.782")]
    [InlineData("Sofinummer 123456782.", "123456782")]
    public void Dutch_bsn_found_after_its_name(string text, string bsn) =>
        Assert.Equal([bsn], DetectorHarness.Found(new DutchBsnDetector(), text));

    [Theory]
    [InlineData("BSN: 123456789")]      // fails the 11-test
    [InlineData("order 111222333")]     // valid 11-test, no keyword
    [InlineData("BSN: 1112223334")]     // ten digits
    public void Dutch_bsn_near_misses_ignored(string text) =>
        Assert.Empty(DetectorHarness.Found(new DutchBsnDetector(), text));

    [Theory]
    [InlineData("12345678Z")]
    [InlineData("12345678-Z")]
    [InlineData("X0123456S")]
    [InlineData("Y1234567X")]
    [InlineData("Z2345678M")]
    public void Spanish_dni_and_nie_found(string id) =>
        DetectorHarness.AssertFindsExactly(new SpanishDniDetector(), id, FindingKind.NationalId);

    [Theory]
    [InlineData("12345678A")]   // wrong letter
    [InlineData("X0123456T")]
    [InlineData("1234567Z")]    // seven digits, no NIE letter
    [InlineData("12345678z")]
    [InlineData("A12345678Z")]
    public void Spanish_dni_near_misses_ignored(string text) =>
        Assert.Empty(DetectorHarness.Found(new SpanishDniDetector(), text));
}
