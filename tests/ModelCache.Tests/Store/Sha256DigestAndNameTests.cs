using InferenceMesh.Tests;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.ModelCache.Tests.Store;

public sealed class Sha256DigestAndNameTests
{
    private const string Valid = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Fact]
    public void Digest_AcceptsExactly64LowercaseHex()
    {
        Assert.True(Sha256Digest.TryParse(Valid, out var digest));
        Assert.Equal(Valid, digest.Hex);
        Assert.Equal("sha256-" + Valid, digest.BlobFileName);
        Assert.Equal(Valid, Sha256Digest.FromBytes(Convert.FromHexString(Valid)).Hex);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0")]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab")]
    [InlineData(" 123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("../../../../../../../../../../../../../../../../../../etc/passwd..")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\0")]
    [InlineData("g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("０123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void Digest_RefusesEverythingElse(string? text)
    {
        Assert.False(Sha256Digest.IsValid(text));
        Assert.False(Sha256Digest.TryParse(text, out _));
    }

    [Theory]
    [InlineData("stories260K")]
    [InlineData("llama-3.2-1b-instruct.Q4_K_M")]
    [InlineData("модель")]
    [InlineData("console")]
    public void Name_Accepted(string name) => Assert.Null(ModelName.Validate(name));

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("../escape")]
    [InlineData("..\\escape")]
    [InlineData("/etc/passwd")]
    [InlineData("/dev/null")]
    [InlineData("C:\\Windows\\x")]
    [InlineData("C:x")]
    [InlineData("CON")]
    [InlineData("nul")]
    [InlineData("NUL.gguf")]
    [InlineData("com1")]
    [InlineData("LPT9.txt")]
    [InlineData("a\0b")]
    [InlineData("line\nbreak")]
    [InlineData(" padded ")]
    [InlineData("rtl\u202Eoverride")]
    public void Name_Refused(string name) => Assert.NotNull(ModelName.Validate(name));

    [Fact]
    public void Name_LongerThanTheLimit_IsRefused()
    {
        Assert.Null(ModelName.Validate(new string('a', ModelName.MaxLength)));
        Assert.Contains("longer than 200", ModelName.Validate(new string('a', ModelName.MaxLength + 1)));
        Assert.NotNull(ModelName.Validate(new string('a', 5000)));
    }

    [Fact]
    public void Layout_LoosePath_OnlyPlainTopLevelNames()
    {
        var layout = new StoreLayout(TestPaths.NewTempDir());
        Assert.Equal(Path.Combine(layout.Root, "a.gguf"), layout.LoosePath("a.gguf"));
        Assert.Null(layout.LoosePath("../a.gguf"));
        Assert.Null(layout.LoosePath("/etc/passwd"));
        Assert.Null(layout.LoosePath("sub/a.gguf"));
        Assert.Null(layout.LoosePath(".."));
        Assert.Null(layout.LoosePath("a\0.gguf"));
        Assert.Null(layout.LoosePath(""));
    }
}
