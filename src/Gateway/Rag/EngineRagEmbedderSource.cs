using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Embedding;
using InferenceMesh.Engine;
using InferenceMesh.ModelCache.Catalog;

namespace InferenceMesh.Gateway.Rag;

/// <summary>
/// Embedding models for the RAG module from the local engine: a model of the models folder, loaded (and shared with
/// chat) by the engine's host, embeddings on its second context (mean pooled, L2-normalised), tokens from its own
/// tokenizer. The default model is <c>--embedding-model</c>, else the first model of the folder by id.
/// </summary>
public sealed class EngineRagEmbedderSource(IModelCatalog catalog, IModelHost host, RagOptions options) : IRagEmbedderSource
{
    /// <summary>The engine's longest embedding input (EmbeddingLimits.MaxTokensPerDecode in the engine's scheduler).</summary>
    private const int EngineEmbeddingTokenLimit = 2048;

    public string? DefaultModel => options.EmbeddingModel ?? catalog.Models.Select(m => m.Id).Order(StringComparer.Ordinal).FirstOrDefault();

    public async ValueTask<RagResult<IRagEmbedder>> GetAsync(string modelId, CancellationToken cancellationToken)
    {
        if (catalog.Find(modelId) is not { } entry)
        {
            return new RagError(RagErrorKind.NotFound, $"The embedding model '{RagError.Printable(modelId)}' is not in the models folder.", "embedding_model", "model_not_found");
        }

        var loaded = await host.GetOrLoadAsync(new ModelSource(entry.Id, entry.Path, entry.SizeBytes), cancellationToken);
        if (!loaded.Succeeded)
        {
            return new RagError(RagErrorKind.Unavailable, $"The embedding model '{entry.Id}' could not be loaded ({loaded.Failure!.Error}).", "embedding_model", "model_unavailable");
        }

        return new EngineRagEmbedder(loaded.Value!);
    }

    private sealed class EngineRagEmbedder(ILoadedModel model) : IRagEmbedder
    {
        public string ModelId => model.Id;

        public int MaxInputTokens => Math.Min(model.SlotContextLength, EngineEmbeddingTokenLimit);

        public int CountTokens(string text) => model.Tokenize(text, addSpecial: false, parseSpecial: false).Length;

        public async ValueTask<RagResult<float[][]>> EmbedAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken)
        {
            var result = await model.EmbedAsync(inputs, cancellationToken);
            if (result.Succeeded)
            {
                return result.Value!.Vectors.ToArray();
            }

            var failure = result.Failure!;
            var kind = failure.Error switch
            {
                EngineError.Cancelled => RagErrorKind.Cancelled,
                EngineError.InvalidParameter or EngineError.PromptTooLong => RagErrorKind.Invalid,
                _ => RagErrorKind.Unavailable,
            };
            return new RagError(kind, failure.Message, null, failure.Error == EngineError.Overloaded ? "rate_limit_exceeded" : "server_error");
        }
    }
}
