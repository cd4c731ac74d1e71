using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

/// <summary>Key formats. The values are synthetic (right prefix, length and alphabet), except AWS's documented examples.</summary>
public sealed class TokenDetectorTests
{
    private static readonly TokenDetector Detector = new();

    private const string Alnum36 = "16C7e42F292c6912E7710c838347Ae178B4a";

    public static TheoryData<string, FindingKind> Tokens => new()
    {
        { "AKIAIOSFODNN7EXAMPLE", FindingKind.CloudAccessKey },
        { "ASIAY34FZKBOKMUTVV7A", FindingKind.CloudAccessKey },
        { "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", FindingKind.CloudAccessKey },
        { "ghp_" + Alnum36, FindingKind.VcsToken },
        { "gho_" + Alnum36, FindingKind.VcsToken },
        { "ghs_" + Alnum36, FindingKind.VcsToken },
        { "ghu_" + Alnum36, FindingKind.VcsToken },
        { "github_pat_11ABCDEFG0123456789abc_" + Alnum36 + "0123456789abcdefghijklm", FindingKind.VcsToken },
        { "glpat-Abc123Def456Ghi789Jk", FindingKind.VcsToken },
        { "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", FindingKind.ApiKey },
        { "xoxp-1234567890-1234567890-1234567890-abcdef0123456789abcdef0123456789", FindingKind.ApiKey },
        { "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", FindingKind.ApiKey },
        { "sk_live_4eC39HqLyjWDarjtT1zdp7dc", FindingKind.ApiKey },
        { "rk_live_51H8Abc0123456789DEFghijKLM", FindingKind.ApiKey },
        { "sk-" + Alnum36 + "0123456789AB", FindingKind.ApiKey },
        { "sk-proj-" + Alnum36 + "_" + Alnum36 + "-" + Alnum36, FindingKind.ApiKey },
        { "sk-ant-api03-" + Alnum36 + Alnum36 + "-Ab1_Cd2AA", FindingKind.ApiKey },
    };

    [Theory]
    [MemberData(nameof(Tokens))]
    public void Finds_key_formats_with_exact_spans(string token, FindingKind kind) =>
        DetectorHarness.AssertFindsExactly(Detector, token, kind);

    [Theory]
    [InlineData("AKIA1234")]
    [InlineData("AKIAIOSFODNN7EXAMPLEX")]          // longer than an access key id
    [InlineData("XAKIAIOSFODNN7EXAMPLE")]
    [InlineData("AIzaShort")]
    [InlineData("ghp_short")]
    [InlineData("ghx_16C7e42F292c6912E7710c838347Ae178B4a")]
    [InlineData("glpat-short")]
    [InlineData("xoxb-not-a-real-token-at-all")]    // no digits
    [InlineData("sk_test_4eC39HqLyjWDarjtT1zdp7dc")] // test keys are not live credentials
    [InlineData("pip install scikit-learn; import sk-learn")]
    [InlineData("task-16C7e42F292c6912E7710c838347Ae178B4a")]
    [InlineData("sk-this-is-a-long-hyphenated-identifier-name")]
    [InlineData("sk-ant-short")]
    public void Ignores_look_alikes(string text) =>
        Assert.Empty(DetectorHarness.Found(Detector, text));

    [Theory]
    [InlineData("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]
    [InlineData("AWS_SECRET_ACCESS_KEY=\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"")]
    [InlineData("awsSecretKey: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]
    public void Finds_an_aws_secret_key_after_its_name(string text) =>
        Assert.Equal(["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"], DetectorHarness.Found(Detector, text, FindingKind.CloudAccessKey));

    [Fact]
    public void Forty_base64_chars_without_the_name_are_not_a_secret_key() =>
        Assert.Empty(DetectorHarness.Found(Detector, "sha1 = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
}
