using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class EmailDetectorTests
{
    private static readonly EmailDetector Detector = new();

    [Theory]
    [InlineData("alice@example.com")]
    [InlineData("bob.smith+billing@mail.example.co.uk")]
    [InlineData("first_last-99@sub-domain.example.org")]
    [InlineData("x@e.io")]
    [InlineData("USER%ops@EXAMPLE.NET")]
    public void Finds_addresses_with_exact_spans(string email) =>
        DetectorHarness.AssertFindsExactly(Detector, email, FindingKind.Email);

    [Theory]
    [InlineData("@Override public void run()")]
    [InlineData("ping me @alice on chat")]
    [InlineData("user@localhost")]
    [InlineData("a..b@example.com")]
    [InlineData(".alice@example.com")]
    [InlineData("npm i @scope/package@1.2.3")]
    public void Ignores_non_addresses(string text) =>
        Assert.Empty(DetectorHarness.Found(Detector, text));

    [Fact]
    public void An_ssh_remote_is_an_address_up_to_the_host()
    {
        // user@host is all the detector can know; the span must still stop at the host
        Assert.Equal(["git@github.com"], DetectorHarness.Found(Detector, "git@github.com:org/repo.git"));
    }

    [Fact]
    public void Finds_several_in_one_text()
    {
        const string text = "To: alice@example.com, bob@example.org; cc carol@example.net.";
        Assert.Equal(["alice@example.com", "bob@example.org", "carol@example.net"], DetectorHarness.Found(Detector, text));
    }

    [Fact]
    public void Local_part_longer_than_64_is_not_an_address()
    {
        var text = new string('a', 65) + "@example.com";
        Assert.Empty(DetectorHarness.Found(Detector, text));
    }
}
