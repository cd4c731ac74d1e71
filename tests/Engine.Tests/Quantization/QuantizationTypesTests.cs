using System.ComponentModel.DataAnnotations;
using InferenceMesh.Engine.Quantization;
using InferenceMesh.ModelCache.Gguf;

namespace InferenceMesh.Engine.Tests.Quantization;

public sealed class QuantizationTypesTests
{
    [Theory]
    [InlineData("Q8_0", "Q8_0", 7)]
    [InlineData("q4_0", "Q4_0", 2)]
    [InlineData("Q4_k_m", "Q4_K_M", 15)]
    [InlineData("Q4_K", "Q4_K", 15)]
    [InlineData("Q3_K_S", "Q3_K_S", 11)]
    [InlineData("Q6_K", "Q6_K", 18)]
    [InlineData("F16", "F16", 1)]
    [InlineData("bf16", "BF16", 32)]
    [InlineData("15", "Q4_K", 15)] // the first row with llama_ftype 15 is the alias, as in llama-quantize
    [InlineData("12", "Q3_K", 12)] // llama-quantize takes the first row with that llama_ftype: the alias
    [InlineData("0", "F32", 0)]
    public void Names_and_numbers_resolve_like_llama_quantize(string input, string name, int fileType)
    {
        Assert.True(QuantizationTypes.TryResolve(input, out var info));
        Assert.Equal(name, info.Name);
        Assert.Equal(fileType, info.FileType);
    }

    [Theory]
    [InlineData("Q9_9")]
    [InlineData("")]
    [InlineData("Q4_K_M ")]
    [InlineData("4")] // llama_ftype 4 was removed
    public void Unknown_names_do_not_resolve(string input) => Assert.False(QuantizationTypes.TryResolve(input, out _));

    [Fact]
    public void Copy_keeps_the_input_file_type()
    {
        Assert.True(new QuantizationType("copy").TryResolve(out var info));
        Assert.True(info.OnlyCopy);
        Assert.Equal(0, info.FileType);
    }

    [Fact]
    public void Every_non_alias_name_is_the_llama_ftype_name_the_gguf_reader_uses()
    {
        foreach (var row in QuantizationTypes.All.Where(r => !r.IsAlias && !r.OnlyCopy))
        {
            Assert.Equal(row.Name, LlamaFileTypes.NameOf((uint)row.FileType));
        }
    }

    [Fact]
    public void Options_defaults_match_llama_quantize()
    {
        var options = new QuantizeOptions();
        Assert.Null(options.Threads);
        Assert.False(options.AllowRequantize);
        Assert.False(options.Overwrite);
        Assert.Null(options.ExpectedOutputBytes);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.ProgressInterval);
        options.Validate();
    }

    [Fact]
    public void Invalid_options_name_the_property()
    {
        var e = Assert.Throws<ValidationException>(() => new QuantizeOptions { Threads = 0 }.Validate());
        Assert.Contains("Threads", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ValidationException>(() => new QuantizeOptions { Threads = 1025 }.Validate());
        Assert.Contains("Threads", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ValidationException>(() => new QuantizeOptions { ExpectedOutputBytes = 0 }.Validate());
        Assert.Contains("ExpectedOutputBytes", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ValidationException>(() => new QuantizeOptions { ProgressInterval = TimeSpan.Zero }.Validate());
        Assert.Contains("ProgressInterval", e.Message, StringComparison.Ordinal);
        new QuantizeOptions { Threads = 1024, ExpectedOutputBytes = 1 }.Validate();
    }
}
