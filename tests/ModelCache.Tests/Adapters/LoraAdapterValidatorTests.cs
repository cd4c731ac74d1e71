using InferenceMesh.ModelCache.Adapters;
using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.Tests;
using InferenceMesh.Tests.Lora;

namespace InferenceMesh.ModelCache.Tests.Adapters;

/// <summary>The managed adapter checks, one case per rule, on adapters written with our GGUF writer for stories260K.</summary>
public sealed class LoraAdapterValidatorTests : IDisposable
{
    private readonly string _folder = TestPaths.NewTempDir("im-lora-validate");
    private readonly GgufFile _base = GgufReader.Read(TestPaths.Stories260K).File!;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_generated_adapter_is_valid_and_its_facts_are_read()
    {
        var (info, error) = Validate(new LoraAdapterFactory.Options { Rank = 4, Alpha = 8 });
        Assert.Null(error);
        Assert.Equal(new LoraAdapterInfo("llama", 8f, 4, 5 * LoraAdapterFactory.DefaultTargets.Length), info);

        var (noAlpha, _) = Validate(new LoraAdapterFactory.Options { Alpha = null, Rank = 2 });
        Assert.Equal(new LoraAdapterInfo("llama", null, 2, 20), noAlpha);
    }

    [Theory]
    [InlineData("architecture", "architecture 'qwen2'")]
    [InlineData("model", "not 'adapter'")]
    [InlineData("unknown-tensor", "no tensor 'blk.99.attn_q.weight'")]
    [InlineData("missing-b", "lacks its .lora_b tensor")]
    [InlineData("shape", "do not fit the base weight")]
    [InlineData("alpha-type", "adapter.lora.alpha must be a float32")]
    public void Every_adapter_llama_cpp_would_refuse_or_abort_on_is_rejected_with_its_reason(string @case, string reason)
    {
        var options = @case switch
        {
            "architecture" => new LoraAdapterFactory.Options { Architecture = "qwen2" },
            "model" => new LoraAdapterFactory.Options { GeneralType = "model" },
            "unknown-tensor" => new LoraAdapterFactory.Options { AddUnknownTensor = true },
            "missing-b" => new LoraAdapterFactory.Options { DropOneB = true },
            "shape" => new LoraAdapterFactory.Options { WrongShape = true },
            "alpha-type" => new LoraAdapterFactory.Options { AlphaAsInteger = true },
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };

        var (info, error) = Validate(options);
        Assert.Null(info);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_of_the_wrong_type_and_the_model_itself_are_rejected()
    {
        var writer = new GgufWriter()
            .AddString("general.architecture", "llama")
            .AddUInt32("general.type", 1)
            .AddString("adapter.type", "lora");
        writer.AddTensor("blk.0.attn_q.weight.lora_a", [64, 2], new float[128]);
        writer.AddTensor("blk.0.attn_q.weight.lora_b", [2, 64], new float[128]);
        var path = Path.Combine(_folder, "typed.gguf");
        writer.WriteTo(path);
        var (_, error) = LoraAdapterValidator.Validate(GgufReader.Read(path).File!, _base);
        Assert.Contains("general.type must be a string", error, StringComparison.Ordinal);

        Assert.False(LoraAdapterValidator.IsAdapter(_base));
        var (_, notAnAdapter) = LoraAdapterValidator.Validate(_base, _base);
        Assert.Contains("general.type is missing", notAnAdapter, StringComparison.Ordinal);
    }

    private (LoraAdapterInfo? Info, string? Error) Validate(LoraAdapterFactory.Options options)
    {
        var path = Path.Combine(_folder, Guid.NewGuid().ToString("N") + ".gguf");
        LoraAdapterFactory.Write(TestPaths.Stories260K, path, options);
        var read = GgufReader.Read(path);
        Assert.True(read.IsValid, read.Error?.ToString());
        return LoraAdapterValidator.Validate(read.File, _base);
    }
}
