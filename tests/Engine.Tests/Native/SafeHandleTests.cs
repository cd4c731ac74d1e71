using InferenceMesh.Engine.Native;

namespace InferenceMesh.Engine.Tests.Native;

public sealed class SafeHandleTests
{
    [Fact]
    public void A_context_keeps_its_model_alive_until_the_context_is_freed()
    {
        var model = NativeTestEnvironment.LoadStories();
        var context = NativeTestEnvironment.CreateContext(model, nCtx: 64);

        model.Dispose();
        Assert.False(model.NativeReleased, "the model was freed while a context still uses it");
        Assert.Same(model, context.Model);

        // The context still works on the model.
        using (var batch = new LlamaBatchBuffer(capacity: 4))
        {
            batch.Add(LlamaNative.llama_vocab_bos(LlamaNative.llama_model_get_vocab(model)), pos: 0, seqId: 0, wantLogits: true);
            Assert.Equal(0, LlamaNative.llama_decode(context, batch.Batch));
        }

        context.Dispose();
        Assert.True(model.NativeReleased);
        Assert.True(model.IsClosed);
        Assert.Throws<ObjectDisposedException>(() => LlamaNative.llama_model_n_embd(model));
    }

    [Fact]
    public void A_sampler_moved_into_a_chain_is_freed_only_by_the_chain()
    {
        NativeTestEnvironment.EnsureInitialized();
        var standalone = SafeLlamaSamplerHandle.Own(LlamaNative.llama_sampler_init_top_k(40));
        var chain = SafeLlamaSamplerHandle.CreateChain()
            .Add(standalone)
            .Add(LlamaNative.llama_sampler_init_temp(0.8f))
            .Add(LlamaNative.llama_sampler_init_dist(42));

        Assert.True(standalone.IsClosed);
        standalone.Dispose(); // must not free: the chain owns it now
        chain.Dispose();      // frees the chain and all three samplers, once
        Assert.True(chain.IsClosed);
        Assert.Throws<ArgumentException>(() => SafeLlamaSamplerHandle.CreateChain().Add(IntPtr.Zero));
    }

    [Fact]
    public void Batch_buffer_tracks_count_capacity_and_last_logits()
    {
        NativeTestEnvironment.EnsureInitialized();
        using var batch = new LlamaBatchBuffer(capacity: 2, seqMax: 2);
        batch.Add(1, pos: 0, seqId: 0, wantLogits: false);
        batch.Add(2, pos: 1, seqIds: [0, 1], wantLogits: false);
        batch.SetLastLogits(true);

        Assert.Equal(2, batch.Count);
        Assert.Equal(2, batch.Capacity);
        Assert.Throws<InvalidOperationException>(() => batch.Add(3, pos: 2, seqId: 0, wantLogits: false));
        Assert.False(batch.WantsLogits(0));
        Assert.True(batch.WantsLogits(1));
        Assert.Equal(new[] { 0 }, batch.GetSeqIds(0));
        Assert.Equal(new[] { 0, 1 }, batch.GetSeqIds(1));
        Assert.Equal(2, batch.Batch.n_tokens);

        batch.Clear();
        Assert.Equal(0, batch.Count);
        Assert.Throws<InvalidOperationException>(() => batch.SetLastLogits(true));
    }
}
