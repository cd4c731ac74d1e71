using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.Tests;

namespace InferenceMesh.ModelCache.Tests.Gguf;

public sealed class GgufReaderStoriesTests
{
    [Fact]
    public void Stories260K_ParsesWithTheDocumentedFacts()
    {
        var result = GgufReader.Read(TestPaths.Stories260K);
        Assert.True(result.IsValid, result.ToString());
        var file = result.File;
        Assert.Equal(3u, file.Version);
        Assert.Equal(1_185_376, file.FileLength);
        Assert.Equal("llama", file.Architecture);
        Assert.Equal(48, file.Tensors.Count);
        Assert.Equal(2048, file.ContextLength);
        Assert.Equal("F32", file.Quantization);
        Assert.All(file.Tensors, t => Assert.Equal(GgmlType.F32, t.Type));
        Assert.False(file.HasChatTemplate);
        Assert.Equal(32u, file.Alignment);

        // Every tensor is F32: 4 bytes per parameter. The embedding (512 x 64) and the 5 layers add up as below.
        Assert.Equal(file.Tensors.Sum(t => t.ByteCount) / 4, file.ParameterCount);
        const long embd = 64, vocab = 512, ffn = 172, layers = 5, kv = 64 / 8 * 4;
        const long perLayer = embd + embd * embd + embd * kv * 2 + embd * embd + embd + 3 * embd * ffn;
        var expected = vocab * embd + layers * perLayer + embd + (file.Tensors.Any(t => t.Name == "output.weight") ? vocab * embd : 0);
        Assert.Equal(expected, file.ParameterCount);

        Assert.True(file.TryGetUInt32("tokenizer.ggml.bos_token_id", out var bos) && bos == 1);
        Assert.True(file.TryGetUInt32("tokenizer.ggml.eos_token_id", out var eos) && eos == 2);
        Assert.True(file.TryGetString("tokenizer.ggml.model", out var model) && model == "llama");
        Assert.True(file.TryGetArray("tokenizer.ggml.tokens", out var tokens));
        Assert.Equal(512, tokens.Count);
        Assert.Equal(GgufValueType.String, tokens.ElementType);
        Assert.True(tokens.IsMaterialized); // 512 <= the default limit of 1024

        var small = GgufReader.Read(TestPaths.Stories260K, new GgufReaderOptions { MaxMaterializedArrayElements = 100 });
        Assert.True(small.IsValid, small.ToString());
        Assert.True(small.File.TryGetArray("tokenizer.ggml.tokens", out var lazy));
        Assert.False(lazy.IsMaterialized);
        Assert.Equal(512, lazy.Count);
    }
}
