using InferenceMesh.Classifier;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Router.Tests.Routing;

public sealed class PrivacyHeaderTests
{
    [Theory]
    [InlineData("public", PrivacyLevel.Public)]
    [InlineData("Confidential", PrivacyLevel.Confidential)]
    [InlineData(" RESTRICTED ", PrivacyLevel.Restricted)]
    public void Parses_level_names(string value, PrivacyLevel expected)
    {
        Assert.True(PrivacyHeader.TryParse(value, out var level));
        Assert.Equal(expected, level);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("2")]
    [InlineData("public,restricted")]
    [InlineData("secret")]
    public void Rejects_anything_else(string? value) => Assert.False(PrivacyHeader.TryParse(value, out _));
}
