using InferenceMesh.ModelCache.Gguf;

namespace InferenceMesh.Bench.LocalInference;

/// <summary>The tokens every benchmark request bans with logit_bias, read from the model's GGUF vocabulary.</summary>
internal static class Vocabulary
{
    // llama_token_type (llama.cpp include/llama.h): 1 = normal; 2 unknown, 3 control, 4 user-defined,
    // 5 unused, 6 byte.
    private const int NormalTokenType = 1;

    /// <summary>
    /// EOS (so every run generates exactly max_tokens) plus every token that is not a normal piece: control and
    /// unknown tokens print nothing, and a byte-fallback token may be half a UTF-8 character that a server holds
    /// back, either of which would break "one streamed event per token".
    /// </summary>
    public static IReadOnlyList<int> ForbiddenTokens(string ggufPath)
    {
        var read = GgufReader.Read(ggufPath, new GgufReaderOptions { MaxMaterializedArrayElements = 1 << 22 });
        if (!read.IsValid)
        {
            throw new InvalidDataException($"{ggufPath}: {read.Error}");
        }

        var file = read.File;
        var banned = new SortedSet<int>();
        if (file.TryGetInteger("tokenizer.ggml.eos_token_id", out var eos))
        {
            banned.Add((int)eos);
        }
        else
        {
            throw new InvalidDataException($"{ggufPath} has no tokenizer.ggml.eos_token_id: runs could stop early");
        }

        if (file.TryGetArray("tokenizer.ggml.token_type", out var types) && types.TryGetValues<int>(out var values))
        {
            for (var id = 0; id < values.Length; id++)
            {
                if (values[id] != NormalTokenType)
                {
                    banned.Add(id);
                }
            }
        }

        return [.. banned];
    }
}
