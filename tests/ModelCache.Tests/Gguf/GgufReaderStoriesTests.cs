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

/// <summary>
/// llama.cpp stops the process (GGML_ASSERT) on a vocabulary with two entries it reads as the same C string; a bit flip in
/// a token is enough (found by mutating stories260K). The reader refuses such a file before llama.cpp sees it.
/// </summary>
public sealed class GgufReaderVocabularyTests
{
    [Fact]
    public void A_vocabulary_entry_that_repeats_another_is_refused_with_both_indices()
    {
        var (bytes, entries) = Vocabulary();
        var (first, second) = FirstPairOfEqualLength(entries);
        var (offset, length) = entries[first];
        Array.Copy(bytes, offset, bytes, entries[second].Offset, length);

        var result = GgufReader.Read(new MemoryStream(bytes));

        Assert.False(result.IsValid);
        Assert.Contains($"vocabulary entries {first} and {second} of tokenizer.ggml.tokens are the same token to llama.cpp", result.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Entries_that_differ_only_after_a_nul_byte_are_the_same_token_to_llama_cpp()
    {
        var (bytes, entries) = Vocabulary();
        // A longer entry overwritten with a shorter one's bytes and NUL padding: different byte strings, one C string.
        var shortIndex = Enumerable.Range(3, entries.Count - 3).First(i => entries[i].Length is > 0 and < 4);
        var longIndex = Enumerable.Range(shortIndex + 1, entries.Count - shortIndex - 1).First(i => entries[i].Length > entries[shortIndex].Length);
        var target = entries[longIndex].Offset;
        Array.Clear(bytes, target, entries[longIndex].Length);
        Array.Copy(bytes, entries[shortIndex].Offset, bytes, target, entries[shortIndex].Length);

        var result = GgufReader.Read(new MemoryStream(bytes));

        Assert.False(result.IsValid);
        Assert.Contains($"vocabulary entries {shortIndex} and {longIndex}", result.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_unchanged_vocabulary_is_valid_also_when_it_is_not_materialised()
    {
        var result = GgufReader.Read(TestPaths.Stories260K, new GgufReaderOptions { MaxMaterializedArrayElements = 10 });

        Assert.True(result.IsValid, result.ToString());
    }

    /// <summary>The file's bytes and, per vocabulary entry, where its string bytes are and how long.</summary>
    private static (byte[] Bytes, List<(int Offset, int Length)> Entries) Vocabulary()
    {
        var bytes = File.ReadAllBytes(TestPaths.Stories260K);
        var result = GgufReader.Read(TestPaths.Stories260K);
        Assert.True(result.IsValid, result.ToString());
        Assert.True(result.File.TryGetArray("tokenizer.ggml.tokens", out var tokens));
        return (bytes, GgufVocabulary.Entries(bytes, tokens.Offset, tokens.Count));
    }

    private static (int First, int Second) FirstPairOfEqualLength(List<(int Offset, int Length)> entries)
    {
        for (var i = 3; i < entries.Count; i++)
        {
            for (var j = i + 1; j < entries.Count; j++)
            {
                if (entries[i].Length == entries[j].Length && entries[i].Length > 0)
                {
                    return (i, j);
                }
            }
        }

        throw new InvalidOperationException("no two vocabulary entries of equal length");
    }
}
