using System.Runtime.CompilerServices;
using InferenceMesh.Engine;
using InferenceMesh.ModelCache.Catalog;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.Gateway.Tests.Common;

/// <summary>
/// A scripted engine and catalog, for what the real model cannot show on demand (failures after the first
/// byte, overload, load failures, exact delta text). The functional tests use the real engine.
/// </summary>
internal sealed class FakeEngine : IModelCatalog, IModelHost
{
    public const string ModelId = "fake-model";

    public FakeLoadedModel Model { get; } = new();

    public EngineFailure? LoadFailure { get; set; }

    public string Directory => "/fake/models";

    public IReadOnlyList<CatalogEntry> Models =>
    [
        new CatalogEntry { Id = ModelId, Path = "/fake/models/fake-model.gguf", SizeBytes = 1, Architecture = "llama" },
    ];

    public IReadOnlyList<InvalidModelFile> InvalidFiles => [new InvalidModelFile("broken.gguf", "not a GGUF file")];

    public CatalogEntry? Find(string id) => Models.FirstOrDefault(m => m.Id == id);

    public void Refresh()
    {
    }

    public ValueTask<EngineResult<ILoadedModel>> GetOrLoadAsync(ModelSource source, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(LoadFailure is { } failure ? EngineResult<ILoadedModel>.Fail(failure) : EngineResult<ILoadedModel>.Ok(Model));

    public IReadOnlyList<SchedulerStatus> GetLoadedStatus() => [Model.GetStatus()];

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Replaces the real catalog and engine in a test host.</summary>
    public void Register(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IModelCatalog>(this);
        builder.Services.AddSingleton<IModelHost>(this);
    }
}

internal sealed class FakeLoadedModel : ILoadedModel
{
    public string Id => FakeEngine.ModelId;

    public int SlotContextLength => 64;

    public bool HasChatTemplate => false;

    public IReadOnlyList<ChatMessage>? LastMessages { get; private set; }

    public GenerationRequest? LastRequest { get; private set; }

    /// <summary>Decides what StartGenerationAsync returns; by default a generation of "Hello" and " world".</summary>
    public Func<GenerationRequest, EngineResult<IGeneration>> OnStart { get; set; } =
        _ => EngineResult<IGeneration>.Ok(new FakeGeneration(["Hello", " world"], new GenerationOutcome(FinishReason.Stop, 3, 2)));

    public Func<IReadOnlyList<string>, EngineResult<EmbeddingResult>> OnEmbed { get; set; } =
        inputs => EngineResult<EmbeddingResult>.Ok(new EmbeddingResult([.. inputs.Select((_, i) => new[] { 0.6f, 0.8f, i })], inputs.Count * 2));

    public EngineResult<string> ApplyChatTemplate(IReadOnlyList<ChatMessage> messages)
    {
        LastMessages = messages;
        return EngineResult<string>.Ok(string.Join("\n", messages.Select(m => $"{m.Role}: {m.Content}")));
    }

    public int[] Tokenize(string text, bool addSpecial, bool parseSpecial) => [.. text.Select(c => (int)c)];

    public int VocabularySize => char.MaxValue + 1;

    public string Detokenize(IReadOnlyList<int> tokens) => string.Concat(tokens.Select(t => (char)t));

    public byte[] TokenPiece(int token) => System.Text.Encoding.UTF8.GetBytes(((char)token).ToString());

    public ValueTask<EngineResult<IGeneration>> StartGenerationAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        LastRequest = request;
        return ValueTask.FromResult(OnStart(request));
    }

    public ValueTask<EngineResult<EmbeddingResult>> EmbedAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(OnEmbed(inputs));

    public ValueTask<EngineResult<EmbeddingResult>> EmbedTokensAsync(IReadOnlyList<IReadOnlyList<int>> inputs, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(OnEmbed([.. inputs.Select(Detokenize)]));

    /// <summary>The slots the model reports (how many choices of a completions batch run at once); 1 by default.</summary>
    public int Slots { get; set; } = 1;

    public SchedulerStatus GetStatus() => new(Id, Slots, SlotContextLength, 0, 0, [.. Enumerable.Range(0, Slots).Select(slot => new SlotStatus(slot, SlotState.Idle, 0))]);
}

/// <summary>Yields its deltas, then ends with the outcome; an endless one waits for cancellation after its deltas.</summary>
internal sealed class FakeGeneration(IReadOnlyList<string> deltas, GenerationOutcome outcome, bool endless = false) : IGeneration
{
    private readonly TaskCompletionSource<GenerationOutcome> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Disposed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int PromptTokens => outcome.PromptTokens;

    public Task<GenerationOutcome> Completion => _completion.Task;

    public async IAsyncEnumerable<GenerationDelta> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var delta in deltas)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            yield return new GenerationDelta(delta);
        }

        if (endless)
        {
            try
            {
                // Waits for the cancellation (the client leaving), not for time.
                await cancellationToken.WhenCancelled();
                cancellationToken.ThrowIfCancellationRequested();
            }
            finally
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    Cancelled.TrySetResult();
                    _completion.TrySetResult(outcome with { Failure = new EngineFailure(EngineError.Cancelled, "cancelled") });
                }
            }
        }

        _completion.TrySetResult(outcome);
    }

    public ValueTask DisposeAsync()
    {
        _completion.TrySetResult(outcome with { Failure = new EngineFailure(EngineError.Cancelled, "disposed") });
        Disposed.TrySetResult();
        return ValueTask.CompletedTask;
    }
}
