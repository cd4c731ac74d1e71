namespace InferenceMesh.ContextStore.Rag.Embedding;

/// <summary>
/// One embedding model as the RAG module needs it: its tokenizer (token-aware chunking) and batched, L2-normalised
/// embeddings. The gateway implements it over the local engine. Thread-safe.
/// </summary>
public interface IRagEmbedder
{
    /// <summary>The model id recorded with each vector store.</summary>
    string ModelId { get; }

    /// <summary>The longest input, in tokens (special tokens included), the model embeds.</summary>
    int MaxInputTokens { get; }

    /// <summary>Tokens of <paramref name="text"/> without special tokens.</summary>
    int CountTokens(string text);

    /// <summary>One normalised vector per input, in order.</summary>
    ValueTask<RagResult<float[][]>> EmbedAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken);
}

/// <summary>Finds (and loads) embedding models by id.</summary>
public interface IRagEmbedderSource
{
    /// <summary>The model new vector stores use when the request names none; null when no model is available.</summary>
    string? DefaultModel { get; }

    /// <summary>The embedder of <paramref name="modelId"/>, or NotFound / Unavailable.</summary>
    ValueTask<RagResult<IRagEmbedder>> GetAsync(string modelId, CancellationToken cancellationToken);
}
