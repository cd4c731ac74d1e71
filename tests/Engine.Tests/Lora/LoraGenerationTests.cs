using System.Text;
using InferenceMesh.Engine.Hosting;
using InferenceMesh.Engine.Tests.Scheduling;
using InferenceMesh.Tests;
using InferenceMesh.Tests.Lora;

namespace InferenceMesh.Engine.Tests.Lora;

/// <summary>
/// LoRA adapters on the real stories260K model: adapters written with our GGUF writer, applied per request through
/// the scheduler, compared with the base output, with each other under concurrency, and with llama.cpp's own output.
/// </summary>
public sealed class LoraGenerationTests : IDisposable
{
    private const string Prompt = "Once upon a time";
    private const int Tokens = 24;

    /// <summary>stories260K's end-of-sequence token (tokenizer.ggml.eos_token_id).</summary>
    private const int StoriesEosToken = 2;

    private const int HolderTokens = 400;
    private readonly string _folder = TestPaths.NewTempDir("im-lora-engine");
    private readonly AdapterSource _first;
    private readonly AdapterSource _second;

    public LoraGenerationTests()
    {
        _first = WriteAdapter("first", new LoraAdapterFactory.Options { Seed = 11 });
        _second = WriteAdapter("second", new LoraAdapterFactory.Options { Seed = 22, Targets = ["attn_k", "attn_output", "ffn_gate"] });
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task An_adapter_changes_the_greedy_output_and_scale_zero_gives_the_base_output()
    {
        await using var engine = await EngineHarness.StartAsync();
        var (baseText, baseIds) = await RunAsync(engine, []);
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation[..30], baseText);

        var (adapted, adaptedIds) = await RunAsync(engine, [new AdapterUse(_first, 1f)]);
        Assert.NotEqual(baseIds, adaptedIds);
        Assert.NotEqual(baseText, adapted);

        var (zero, zeroIds) = await RunAsync(engine, [new AdapterUse(_first, 0f)]);
        Assert.Equal(baseIds, zeroIds);
        Assert.Equal(baseText, zero);

        // Another scale of the same adapter: another output, still one adapter in memory.
        var (_, halfIds) = await RunAsync(engine, [new AdapterUse(_first, 0.5f)]);
        Assert.NotEqual(adaptedIds, halfIds);
        Assert.Equal(1, engine.Model.GetStatus().LoadedAdapters);
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0.8f)]
    [InlineData(-0.5f)]
    public async Task The_output_with_an_adapter_matches_llama_cpp_with_the_same_adapter_and_scale(float scale)
    {
        await using var engine = await EngineHarness.StartAsync();
        var (_, ours) = await RunAsync(engine, [new AdapterUse(_first, scale)]);
        var reference = LlamaReferenceProgram.GreedyTokens(TestPaths.Stories260K, _first.Path, scale, Prompt, Tokens);
        Assert.Equal(reference, ours);

        var (_, ourBase) = await RunAsync(engine, []);
        Assert.Equal(LlamaReferenceProgram.GreedyTokens(TestPaths.Stories260K, null, 0f, Prompt, Tokens), ourBase);
        Assert.NotEqual(ourBase, ours);
    }

    [Fact]
    public async Task Concurrent_requests_with_different_adapters_each_get_exactly_their_solo_output()
    {
        AdapterUse[][] sets = [[], [new AdapterUse(_first, 1f)], [new AdapterUse(_second, 0.9f)], [new AdapterUse(_first, 0.6f), new AdapterUse(_second, 0.6f)]];
        var solo = new List<IReadOnlyList<int>>();
        await using (var alone = await EngineHarness.StartAsync())
        {
            foreach (var set in sets)
            {
                solo.Add((await RunAsync(alone, set)).Ids);
            }
        }

        Assert.Equal(solo.Count, solo.Select(s => string.Join(',', s)).Distinct().Count());

        await using var engine = await EngineHarness.StartAsync();
        // Twice each, all at once: every request shares the scheduler with the other adapter sets.
        var runs = sets.Concat(sets).Select(set => RunAsync(engine, set)).ToArray();
        var results = await Task.WhenAll(runs);
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal(solo[i % sets.Length], results[i].Ids);
        }

        var status = engine.Model.GetStatus();
        Assert.True(status.AdapterSwitches >= 2, $"expected the context's adapter set to alternate, saw {status.AdapterSwitches} switches");
    }

    [Fact]
    public async Task A_prefix_cached_under_one_adapter_set_is_never_reused_under_another()
    {
        IReadOnlyList<int> adaptedAlone;
        await using (var alone = await EngineHarness.StartAsync())
        {
            adaptedAlone = (await RunAsync(alone, [new AdapterUse(_first, 1f)])).Ids;
        }

        await using var engine = await EngineHarness.StartAsync(new EngineOptions { Slots = 1, SlotContextLength = 512 });
        var baseIds = (await RunAsync(engine, [])).Ids;
        var reusedBefore = engine.Model.GetStatus().PromptTokensReused;

        // Same prompt, one slot holding the base model's cells: they must not be reused.
        Assert.Equal(adaptedAlone, (await RunAsync(engine, [new AdapterUse(_first, 1f)])).Ids);
        Assert.Equal(reusedBefore, engine.Model.GetStatus().PromptTokensReused);

        // Under the same set the cache is reused again, with the same output.
        Assert.Equal(adaptedAlone, (await RunAsync(engine, [new AdapterUse(_first, 1f)])).Ids);
        Assert.True(engine.Model.GetStatus().PromptTokensReused > reusedBefore);
        Assert.Equal(baseIds, (await RunAsync(engine, [])).Ids);
    }

    [Fact]
    public async Task A_retired_adapter_is_freed_only_after_the_request_using_it_ends()
    {
        await using var engine = await EngineHarness.StartAsync();
        var expected = (await RunAsync(engine, [new AdapterUse(_first, 1f)])).Ids;
        Assert.Equal(1, engine.Model.GetStatus().LoadedAdapters);

        // A long request (end of sequence banned, many tokens) so that it is surely still running when the adapter is
        // retired; its first tokens are the short request's.
        var holder = Request([new AdapterUse(_first, 1f)]) with
        {
            MaxTokens = HolderTokens,
            Sampling = SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [StoriesEosToken] = -100f } },
        };
        var started = await engine.Model.StartGenerationAsync(holder);
        Assert.True(started.Succeeded, started.Failure?.Message);
        await using var generation = started.Value!;
        var reader = generation.ReadTextAsync().GetAsyncEnumerator();
        Assert.True(await reader.MoveNextAsync()); // running

        await engine.Model.RetireAdaptersExceptAsync([]);
        Assert.False(generation.Completion.IsCompleted, "the holder request ended before the adapter was retired");
        Assert.Equal(1, engine.Model.GetStatus().LoadedAdapters); // still in use
        while (await reader.MoveNextAsync())
        {
        }

        var outcome = await generation.Completion;
        Assert.Null(outcome.Failure);
        var holderIds = ((LlamaLoadedModel.Generation)generation).GeneratedTokenIds;
        Assert.Equal(HolderTokens, holderIds.Count);
        Assert.Equal(expected, holderIds.Take(expected.Count));
        Assert.Equal(0, engine.Model.GetStatus().LoadedAdapters);

        // Offered again: loaded anew, same output.
        Assert.Equal(expected, (await RunAsync(engine, [new AdapterUse(_first, 1f)])).Ids);
        Assert.Equal(1, engine.Model.GetStatus().LoadedAdapters);
    }

    [Fact]
    public async Task An_idle_retired_adapter_is_freed_and_a_replaced_file_is_loaded_anew()
    {
        await using var engine = await EngineHarness.StartAsync();
        var before = (await RunAsync(engine, [new AdapterUse(_first, 1f)])).Ids;
        await engine.Model.RetireAdaptersExceptAsync([_first]);
        Assert.Equal(1, engine.Model.GetStatus().LoadedAdapters);
        await engine.Model.RetireAdaptersExceptAsync([]);
        Assert.Equal(0, engine.Model.GetStatus().LoadedAdapters);

        // Same name, other bytes: the old handle is retired, the new file is what runs.
        var replaced = WriteAdapter("first-v2", new LoraAdapterFactory.Options { Seed = 33 }) with { Name = _first.Name };
        var after = (await RunAsync(engine, [new AdapterUse(replaced, 1f)])).Ids;
        Assert.NotEqual(before, after);
        Assert.Equal(LlamaReferenceProgram.GreedyTokens(TestPaths.Stories260K, replaced.Path, 1f, Prompt, Tokens), after);
    }

    [Fact]
    public async Task Bad_adapters_and_scales_fail_before_any_token_and_the_engine_goes_on()
    {
        await using var engine = await EngineHarness.StartAsync();
        var unknownTensor = WriteAdapter("unknown-tensor", new LoraAdapterFactory.Options { AddUnknownTensor = true });
        var refused = await engine.Model.StartGenerationAsync(Request([new AdapterUse(unknownTensor, 1f)]));
        Assert.Equal(EngineError.AdapterLoadFailed, refused.Failure?.Error);
        Assert.Equal("lora", refused.Failure?.Param);
        Assert.DoesNotContain(Prompt, refused.Failure!.Message, StringComparison.Ordinal);

        foreach (var scale in new[] { 4.5f, -5f, float.NaN, float.PositiveInfinity })
        {
            var invalid = await engine.Model.StartGenerationAsync(Request([new AdapterUse(_first, scale)]));
            Assert.Equal(EngineError.InvalidParameter, invalid.Failure?.Error);
            Assert.Equal("lora", invalid.Failure?.Param);
        }

        var twice = await engine.Model.StartGenerationAsync(Request([new AdapterUse(_first, 1f), new AdapterUse(_first, 0.5f)]));
        Assert.Equal(EngineError.InvalidParameter, twice.Failure?.Error);

        Assert.Equal(0, engine.Model.GetStatus().LoadedAdapters);
        var (text, _) = await RunAsync(engine, []);
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation[..30], text);
    }

    private static GenerationRequest Request(IReadOnlyList<AdapterUse> adapters) =>
        EngineHarness.Greedy(Prompt, Tokens) with { Adapters = adapters };

    private static async Task<(string Text, IReadOnlyList<int> Ids)> RunAsync(EngineHarness engine, IReadOnlyList<AdapterUse> adapters)
    {
        var started = await engine.Model.StartGenerationAsync(Request(adapters));
        Assert.True(started.Succeeded, started.Failure?.Message);
        await using var generation = started.Value!;
        var text = new StringBuilder();
        await foreach (var piece in generation.ReadTextAsync())
        {
            text.Append(piece);
        }

        var outcome = await generation.Completion;
        Assert.Null(outcome.Failure);
        return (text.ToString(), [.. ((LlamaLoadedModel.Generation)generation).GeneratedTokenIds]);
    }

    private AdapterSource WriteAdapter(string name, LoraAdapterFactory.Options options)
    {
        var path = Path.Combine(_folder, name + ".gguf");
        LoraAdapterFactory.Write(TestPaths.Stories260K, path, options);
        return new AdapterSource(name, path, new FileInfo(path).Length);
    }
}
