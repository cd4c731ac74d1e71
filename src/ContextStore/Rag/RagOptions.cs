namespace InferenceMesh.ContextStore.Rag;

/// <summary>Settings of files, vector stores and retrieval. Every default lives in <see cref="RagDefaults"/>.</summary>
public sealed record RagOptions
{
    /// <summary>
    /// The embedding model for new vector stores (a local model id); null picks the first model of the models folder
    /// (by id, ordinal order). Each store records its model and dimension, so changing this never breaks an old store.
    /// The default value is null.
    /// </summary>
    public string? EmbeddingModel { get; init; }

    /// <summary>Largest uploaded file, in bytes; larger uploads get 413. The default value is 64 MiB.</summary>
    public long MaxFileBytes { get; init; } = RagDefaults.MaxFileBytes;

    /// <summary>Chunk texts embedded per call to the engine. The default value is 32.</summary>
    public int EmbeddingBatchSize { get; init; } = RagDefaults.EmbeddingBatchSize;

    /// <summary>
    /// Where chunks, vectors and full text live: null keeps them in the context database (sqlite-vec + FTS5); set, in
    /// PostgreSQL with pgvector (<see cref="Index.PgVectorRagIndex"/>). Files, stores and ingestion state stay in the
    /// context database either way. The default value is null.
    /// </summary>
    public Index.PgVectorRagIndexOptions? Postgres { get; init; }

    /// <summary>Returns null when valid, else a one-line message.</summary>
    public string? Validate()
    {
        if (Postgres?.Validate() is { } postgresError)
        {
            return postgresError;
        }

        if (MaxFileBytes < 1)
        {
            return $"--max-file-bytes must be at least 1 (got {MaxFileBytes}).";
        }

        if (EmbeddingBatchSize is < 1 or > 1024)
        {
            return $"The embedding batch size must be from 1 to 1024 (got {EmbeddingBatchSize}).";
        }

        return EmbeddingModel is { } model && string.IsNullOrWhiteSpace(model) ? "--embedding-model must name a model." : null;
    }
}

/// <summary>Defaults and limits of the RAG module, in one place.</summary>
public static class RagDefaults
{
    public const long MaxFileBytes = 64L * 1024 * 1024;
    public const int EmbeddingBatchSize = 32;

    /// <summary>OpenAI's static chunking defaults: 800-token chunks overlapping by 400.</summary>
    public const int MaxChunkTokens = 800;
    public const int ChunkOverlapTokens = 400;

    /// <summary>OpenAI's bounds for <c>max_chunk_size_tokens</c>.</summary>
    public const int MinChunkTokens = 100;
    public const int MaxChunkTokensLimit = 4096;

    /// <summary>Search results per query: 10 by default, 50 at most (OpenAI's bounds).</summary>
    public const int SearchResults = 10;
    public const int MaxSearchResults = 50;

    /// <summary>Reciprocal rank fusion constant (score = Σ 1 / (k + rank)).</summary>
    public const int RrfK = 60;

    /// <summary>Candidates taken from each of the vector and the full-text search before fusion: this many times the results asked for, at least <see cref="MinCandidates"/>.</summary>
    public const int CandidateFactor = 4;
    public const int MinCandidates = 20;

    /// <summary>A new vector store's privacy when the request names none: confidential (private until proven otherwise).</summary>
    public const RagPrivacy Privacy = RagPrivacy.Confidential;

    /// <summary>The longest accepted file name (characters), vector store name and query.</summary>
    public const int MaxFileNameLength = 255;
    public const int MaxNameLength = 256;
    public const int MaxQueryLength = 4096;

    /// <summary>OpenAI's metadata limits: 16 pairs, keys up to 64 characters, values up to 512.</summary>
    public const int MaxMetadataPairs = 16;
    public const int MaxMetadataKeyLength = 64;
    public const int MaxMetadataValueLength = 512;
}
