namespace InferenceMesh.ContextStore.Rag.Stores;

/// <summary>A vector store: its files are chunked with its strategy and embedded with its model (recorded at creation).</summary>
/// <param name="Dimensions">The embedding dimension, known once the first chunk is embedded.</param>
/// <param name="CreatedAt">Unix seconds.</param>
public sealed record VectorStore(
    long Seq,
    string Id,
    string? Name,
    RagPrivacy Privacy,
    string EmbeddingModel,
    int? Dimensions,
    int MaxChunkTokens,
    int ChunkOverlapTokens,
    IReadOnlyDictionary<string, string> Metadata,
    long CreatedAt,
    long LastActiveAt,
    VectorStoreFileCounts FileCounts,
    long UsageBytes)
{
    /// <summary>"in_progress" while any file is being ingested, else "completed" (OpenAI's store status).</summary>
    public string Status => FileCounts.InProgress > 0 ? VectorStoreFileStatus.InProgress : VectorStoreFileStatus.Completed;
}

public sealed record VectorStoreFileCounts(int InProgress, int Completed, int Failed, int Cancelled)
{
    public int Total => InProgress + Completed + Failed + Cancelled;
}

/// <summary>A file's membership in a vector store, with its ingestion status.</summary>
/// <param name="AttributesJson">The client's attributes, a JSON object (string, number or boolean values).</param>
public sealed record VectorStoreFile(
    string StoreId,
    string FileId,
    string Status,
    string? ErrorCode,
    string? ErrorMessage,
    int MaxChunkTokens,
    int ChunkOverlapTokens,
    string AttributesJson,
    long UsageBytes,
    int Chunks,
    long CreatedAt);

/// <summary>OpenAI's vector store file statuses.</summary>
public static class VectorStoreFileStatus
{
    public const string InProgress = "in_progress";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsKnown(string status) => status is InProgress or Completed or Failed or Cancelled;
}

/// <summary>How a store's files are cut: OpenAI's "static" strategy, in tokens of the store's embedding model.</summary>
public sealed record ChunkingStrategy(int MaxChunkTokens, int ChunkOverlapTokens)
{
    public static ChunkingStrategy Default { get; } = new(RagDefaults.MaxChunkTokens, RagDefaults.ChunkOverlapTokens);

    /// <summary>OpenAI's bounds: 100 to 4096 tokens per chunk, overlap at most half of that.</summary>
    public RagError? Validate(string param)
    {
        if (MaxChunkTokens is < RagDefaults.MinChunkTokens or > RagDefaults.MaxChunkTokensLimit)
        {
            return RagError.Invalid(param + ".static.max_chunk_size_tokens",
                $"'max_chunk_size_tokens' must be from {RagDefaults.MinChunkTokens} to {RagDefaults.MaxChunkTokensLimit}.");
        }

        if (ChunkOverlapTokens < 0 || ChunkOverlapTokens > MaxChunkTokens / 2)
        {
            return RagError.Invalid(param + ".static.chunk_overlap_tokens",
                "'chunk_overlap_tokens' must be from 0 to half of 'max_chunk_size_tokens'.");
        }

        return null;
    }
}
