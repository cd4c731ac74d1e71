using InferenceMesh.Engine.Hosting;
using InferenceMesh.Tests;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.Engine.Tests.Hosting;

public sealed class ModelHostTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("im-host");

    [Fact]
    public async Task Concurrent_first_requests_share_one_load()
    {
        await using var host = NewHost(new EngineOptions { Threads = 1, Slots = 1, SlotContextLength = 128 });
        var source = Copy("a");

        var loads = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => host.GetOrLoadAsync(source).AsTask()));

        Assert.All(loads, l => Assert.True(l.Succeeded));
        Assert.All(loads, l => Assert.Same(loads[0].Value, l.Value));
        Assert.Single(host.GetLoadedStatus());
    }

    [Fact]
    public async Task The_least_recently_used_idle_model_is_unloaded_to_stay_within_the_budget_but_a_busy_one_is_kept()
    {
        // Each stories260K copy needs about 2.5 MB with this context (weights + KV); the budget fits one.
        await using var host = NewHost(new EngineOptions { Threads = 1, Slots = 1, SlotContextLength = 2048, MemoryBudgetBytes = 3 * 1024 * 1024 });

        var a = await host.GetOrLoadAsync(Copy("a"));
        Assert.True(a.Succeeded, a.Failure?.Message);
        var b = await host.GetOrLoadAsync(Copy("b"));
        Assert.True(b.Succeeded, b.Failure?.Message);
        Assert.Equal(["b"], host.GetLoadedStatus().Select(s => s.ModelId));

        var busy = (await b.Value!.StartGenerationAsync(new GenerationRequest { Prompt = "Once upon a time", MaxTokens = 1500, Sampling = SamplingOptions.Greedy })).Value!;
        var c = await host.GetOrLoadAsync(Copy("c"));
        Assert.True(c.Succeeded);
        Assert.Equal(["b", "c"], host.GetLoadedStatus().Select(s => s.ModelId).Order());

        await busy.DisposeAsync();
        await busy.Completion;
    }

    [Fact]
    public async Task A_file_that_llama_cpp_refuses_is_a_load_failure_value_not_a_crash()
    {
        // Structurally valid GGUF header but not a model llama.cpp can build: the catalog normally
        // stops worse files earlier; this one reaches native code and must still come back as a value.
        var path = Path.Combine(_dir, "empty-arch.gguf");
        var writer = new InferenceMesh.ModelCache.Gguf.GgufWriter();
        writer.AddString("general.architecture", "no-such-architecture");
        writer.AddTensor("x", [4], new float[] { 1, 2, 3, 4 });
        writer.WriteTo(path);
        await using var host = NewHost(new EngineOptions { Threads = 1 });

        var result = await host.GetOrLoadAsync(new ModelSource("empty-arch", path, new FileInfo(path).Length));

        Assert.False(result.Succeeded);
        Assert.Equal(EngineError.ModelLoadFailed, result.Failure!.Error);
        Assert.Empty(host.GetLoadedStatus());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static LocalModelHost NewHost(EngineOptions options)
        => new(options, NullLogger<LocalModelHost>.Instance, NullLoggerFactory.Instance);

    private ModelSource Copy(string id)
    {
        var path = Path.Combine(_dir, id + ".gguf");
        File.Copy(TestPaths.Stories260K, path, overwrite: true);
        return new ModelSource(id, path, new FileInfo(path).Length);
    }
}
