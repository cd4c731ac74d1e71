using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class PrivateKeyAndJwtDetectorTests
{
    private const string Body = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==";

    [Theory]
    [InlineData("RSA PRIVATE KEY")]
    [InlineData("PRIVATE KEY")]
    [InlineData("EC PRIVATE KEY")]
    [InlineData("OPENSSH PRIVATE KEY")]
    [InlineData("ENCRYPTED PRIVATE KEY")]
    [InlineData("PGP PRIVATE KEY BLOCK")]
    public void Finds_a_whole_pem_block(string label)
    {
        var key = $"-----BEGIN {label}-----\n{Body}\n-----END {label}-----";
        DetectorHarness.AssertFindsExactly(new PrivateKeyDetector(), key, FindingKind.PrivateKey);
    }

    [Fact]
    public void A_key_pasted_without_its_end_line_spans_its_base64_body()
    {
        var key = $"-----BEGIN RSA PRIVATE KEY-----\n{Body}";
        var text = key + "\n\nwhy does this fail?";
        Assert.Equal([key], DetectorHarness.Found(new PrivateKeyDetector(), text));
    }

    [Theory]
    [InlineData("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----")]
    [InlineData("-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n-----END CERTIFICATE-----")]
    [InlineData("a private key starts with BEGIN PRIVATE KEY")]
    public void Ignores_public_material(string text) =>
        Assert.Empty(DetectorHarness.Found(new PrivateKeyDetector(), text));

    [Theory]
    [InlineData("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")]
    [InlineData("eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2IiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")]
    [InlineData("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.")]
    public void Finds_jwts_whose_header_names_an_alg(string jwt) =>
        DetectorHarness.AssertFindsExactly(new JwtDetector(), jwt, FindingKind.Jwt);

    [Theory]
    [InlineData("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")]   // header without alg
    [InlineData("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9")]               // one segment
    [InlineData("eyJub3QganNvbg.eyJzdWIiOiIxIn0.c2ln")]               // header is not JSON
    [InlineData("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.x")]
    public void Ignores_jwt_look_alikes(string text) =>
        Assert.Empty(DetectorHarness.Found(new JwtDetector(), text));

    [Fact]
    public void Finds_a_jwt_in_an_authorization_header()
    {
        const string jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        Assert.Equal([jwt], DetectorHarness.Found(new JwtDetector(), $"curl -H 'Authorization: Bearer {jwt}' https://api"));
    }
}
