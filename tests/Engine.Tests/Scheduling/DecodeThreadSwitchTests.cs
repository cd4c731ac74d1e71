using InferenceMesh.Tests;
using InferenceMesh.Engine.Hosting;

namespace InferenceMesh.Engine.Tests.Scheduling;

/// <summary>
/// The scheduler moves decoding between the pool's full thread count and one thread without the pool (what
/// DecodeThreadGovernor decides on a busy machine). The switch happens between two steps of running sequences; the
/// text must not notice it. Below 512 cells of context, that is: from there on llama.cpp's flash attention splits a
/// single query's KV range by thread count and sums the parts (ops.cpp, use_split_kv_path), so the last bits of a long
/// context's logits depend on the thread count, as they already do on the batch's composition.
/// </summary>
public class DecodeThreadSwitchTests
{
    [Fact]
    public async Task Switching_between_two_threads_and_one_mid_generation_keeps_the_greedy_text()
    {
        await using var engine = await EngineHarness.StartAsync(new EngineOptions { Slots = 2, SlotContextLength = 500 }, threads: 2);
        var model = (LlamaLoadedModel)engine.Model;
        model.PinDecodeThreads(2);
        var (reference, referenceOutcome) = await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 400));
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation, reference);

        var changes = model.ContextThreadChanges;
        model.AlternateDecodeThreads(50); // switched by the scheduler itself: 50 decodes on 2 threads, 50 on 1, …
        var (text, outcome) = await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 400));
        model.AlternateDecodeThreads(0);
        Assert.Null(outcome.Failure);
        Assert.True(model.ContextThreadChanges - changes >= 2, $"the thread count changed {model.ContextThreadChanges - changes} times during the generation");
        Assert.Equal(referenceOutcome.CompletionTokens, outcome.CompletionTokens);
        Assert.Equal(reference, text);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Fixed_threads_keep_every_decode_at_the_configured_count(bool adaptive)
    {
        await using var engine = await EngineHarness.StartAsync(new EngineOptions { Slots = 2, SlotContextLength = 256, AdaptiveThreads = adaptive }, threads: 2);
        var model = (LlamaLoadedModel)engine.Model;
        var changes = model.ContextThreadChanges;

        await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 40));

        // Adaptive: the governor's first probe (one thread, right after the first window of steps) changes the count;
        // fixed: nothing ever does.
        Assert.Equal(adaptive, model.ContextThreadChanges > changes);
        if (!adaptive)
        {
            Assert.Equal(2, engine.Model.GetStatus().DecodeThreads); // adaptive may well stay on one: stories260K is tiny
        }
    }

    [Fact]
    public async Task Embeddings_follow_a_switch_to_one_thread()
    {
        await using var engine = await EngineHarness.StartAsync(new EngineOptions { Slots = 2, SlotContextLength = 512 }, threads: 2);
        var model = (LlamaLoadedModel)engine.Model;
        var before = await engine.Model.EmbedAsync(["Once upon a time", "a little girl named Lily"]);
        Assert.True(before.Succeeded, before.Failure?.Message);

        model.PinDecodeThreads(1);
        var changes = model.ContextThreadChanges;
        var after = await engine.Model.EmbedAsync(["Once upon a time", "a little girl named Lily"]);
        Assert.True(after.Succeeded, after.Failure?.Message);
        Assert.Equal(changes + 1, model.ContextThreadChanges);

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(before.Value!.Vectors[i], after.Value!.Vectors[i]);
        }
    }
}
