using System.Text.RegularExpressions;
using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Embedding;

namespace InferenceMesh.ContextStore.Tests.Rag;

/// <summary>
/// A feature-hashing bag-of-words embedder (each lower-cased word adds 1 to the dimension its hash picks, then the
/// vector is L2-normalised) with a whitespace "tokenizer": deterministic, so the module's own logic can be tested
/// without the engine. The gateway tests use the real engine. It can be told to fail or to wait after a number of calls.
/// </summary>
internal sealed partial class HashingEmbedder(int dimensions = 32) : IRagEmbedder, IRagEmbedderSource
{
    public const string Model = "hashing-test";

    private int _calls;

    public string ModelId => Model;

    public int MaxInputTokens { get; set; } = 512;

    /// <summary>The call (1-based) of <see cref="EmbedAsync"/> that fails; 0: none.</summary>
    public int FailOnCall { get; set; }

    /// <summary>When set, each call of <see cref="EmbedAsync"/> waits for it (to cancel an ingestion mid-way).</summary>
    public TaskCompletionSource? Gate { get; set; }

    public TaskCompletionSource FirstCall { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Calls => _calls;

    public string? DefaultModel => Model;

    public ValueTask<RagResult<IRagEmbedder>> GetAsync(string modelId, CancellationToken cancellationToken) =>
        ValueTask.FromResult(modelId == Model
            ? new RagResult<IRagEmbedder>(this, null)
            : new RagResult<IRagEmbedder>(null, new RagError(RagErrorKind.NotFound, "no such model", "embedding_model", "model_not_found")));

    public int CountTokens(string text) => Words().Count(text);

    public async ValueTask<RagResult<float[][]>> EmbedAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken)
    {
        var call = Interlocked.Increment(ref _calls);
        FirstCall.TrySetResult();
        if (Gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        if (call == FailOnCall)
        {
            return new RagError(RagErrorKind.Unavailable, "The test embedder failed on purpose.", null, "server_error");
        }

        return inputs.Select(Embed).ToArray();
    }

    public float[] Embed(string text)
    {
        var vector = new float[dimensions];
        foreach (Match word in Words().Matches(text.ToLowerInvariant()))
        {
            vector[Fnv1a(word.Value) % (uint)dimensions] += 1;
        }

        var norm = MathF.Sqrt(vector.Sum(v => v * v));
        return norm == 0 ? vector : [.. vector.Select(v => v / norm)];
    }

    private static uint Fnv1a(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }

    [GeneratedRegex(@"\S+")]
    private static partial Regex Words();
}
