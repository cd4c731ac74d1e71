using System.Text;
using InferenceMesh.Engine.Hosting;
using InferenceMesh.Tests;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.Engine.Tests.Scheduling;

/// <summary>A real engine on the real stories260K model; each test owns its own host.</summary>
internal sealed class EngineHarness : IAsyncDisposable
{
    private EngineHarness(LocalModelHost host, ILoadedModel model)
    {
        Host = host;
        Model = model;
    }

    public LocalModelHost Host { get; }
    public ILoadedModel Model { get; }

    /// <summary>One decode thread unless <paramref name="threads"/> says otherwise (more make the pool start workers).</summary>
    public static async Task<EngineHarness> StartAsync(EngineOptions? options = null, int threads = 1)
    {
        var host = new LocalModelHost((options ?? new EngineOptions { Slots = 4, SlotContextLength = 512 }) with { Threads = threads }, NullLogger<LocalModelHost>.Instance, NullLoggerFactory.Instance);
        var path = TestPaths.Stories260K;
        var loaded = await host.GetOrLoadAsync(new ModelSource("stories260K", path, new FileInfo(path).Length));
        Assert.True(loaded.Succeeded, loaded.Failure?.Message);
        return new EngineHarness(host, loaded.Value!);
    }

    public static GenerationRequest Greedy(string prompt, int maxTokens, params string[] stop) => new()
    {
        Prompt = prompt,
        MaxTokens = maxTokens,
        Stop = stop,
        Sampling = SamplingOptions.Greedy,
    };

    /// <summary>Runs one generation to the end and returns its text and outcome.</summary>
    public async Task<(string Text, GenerationOutcome Outcome)> CompleteAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        var started = await Model.StartGenerationAsync(request, cancellationToken);
        Assert.True(started.Succeeded, started.Failure?.Message);
        await using var generation = started.Value!;
        var text = new StringBuilder();
        await foreach (var piece in generation.ReadTextAsync(cancellationToken))
        {
            text.Append(piece);
        }

        return (text.ToString(), await generation.Completion);
    }

    public ValueTask DisposeAsync() => Host.DisposeAsync();
}
