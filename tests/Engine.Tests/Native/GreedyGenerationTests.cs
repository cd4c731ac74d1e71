using System.Text;
using InferenceMesh.Engine.Native;
using InferenceMesh.Tests;

namespace InferenceMesh.Engine.Tests.Native;

/// <summary>End to end through the raw binding only: load, tokenise, decode, sample greedily, detokenise.</summary>
public sealed class GreedyGenerationTests
{
    [Fact]
    public void Stories260K_continues_once_upon_a_time_greedily()
    {
        using var model = NativeTestEnvironment.LoadStories();
        using var context = NativeTestEnvironment.CreateContext(model, nCtx: 256);
        Assert.Equal(256u, LlamaNative.llama_n_ctx(context));

        var vocab = model.GetVocab();
        Assert.Equal(512, LlamaNative.llama_vocab_n_tokens(vocab));
        Assert.True(LlamaNative.llama_vocab_get_add_bos(vocab));

        var prompt = LlamaTokenizer.Tokenize(vocab, "Once upon a time", addSpecial: true, parseSpecial: false);
        Assert.Equal(LlamaNative.llama_vocab_bos(vocab), prompt[0]);

        using var batch = new LlamaBatchBuffer(capacity: 256);
        for (var i = 0; i < prompt.Length; i++)
        {
            batch.Add(prompt[i], pos: i, seqId: 0, wantLogits: false);
        }

        batch.SetLastLogits(true);
        Assert.Equal(0, LlamaNative.llama_decode(context, batch.Batch));

        using var sampler = SafeLlamaSamplerHandle.CreateChain().Add(LlamaNative.llama_sampler_init_greedy());
        var generated = new List<int>();
        var pieces = new List<byte>();
        var position = prompt.Length;
        for (var step = 0; step < 80; step++)
        {
            var token = LlamaNative.llama_sampler_sample(sampler, context, -1);
            if (LlamaNative.llama_vocab_is_eog(vocab, token))
            {
                break;
            }

            generated.Add(token);
            pieces.AddRange(LlamaTokenizer.TokenToPiece(vocab, token, special: false));
            batch.Clear();
            batch.Add(token, position++, seqId: 0, wantLogits: true);
            Assert.Equal(0, LlamaNative.llama_decode(context, batch.Batch));
        }

        var text = LlamaTokenizer.Detokenize(vocab, [.. generated], removeSpecial: true, unparseSpecial: false);
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation, text, StringComparison.Ordinal);
        Assert.Equal(text, Encoding.UTF8.GetString([.. pieces]));

        var memory = context.GetMemory();
        Assert.Equal(0, LlamaNative.llama_memory_seq_pos_min(memory, 0));
        Assert.Equal(position - 1, LlamaNative.llama_memory_seq_pos_max(memory, 0));
        Assert.True(LlamaNative.llama_memory_seq_rm(memory, 0, -1, -1));
        Assert.Equal(-1, LlamaNative.llama_memory_seq_pos_max(memory, 0));
    }
}
