namespace InferenceMesh.ContextStore.Rag.Index;

/// <summary>A vector store as the index knows it: the store's id and its row number (stable, used to name storage).</summary>
public sealed record RagStoreRef(long Seq, string Id);

/// <summary>A chunk with its embedding, ready to be indexed.</summary>
public sealed record IndexedChunk(int Index, string Text, int Tokens, float[] Vector);

/// <summary>One hit of one search, best first; <paramref name="Score"/> is the search's own measure (distance or bm25).</summary>
public readonly record struct RankedChunk(long ChunkId, double Score);

/// <summary>A stored chunk.</summary>
public sealed record StoredChunk(long Id, string StoreId, string FileId, int Index, string Text);

/// <summary>
/// Where chunks, their vectors and their full-text index live: SQLite (sqlite-vec + FTS5) by default; a PostgreSQL
/// + pgvector implementation can take its place. Fusion of the two searches happens above this interface
/// (<see cref="Search.HybridSearch"/>), so an implementation only supplies the two ranked lists.
/// Thread-safe; every write is atomic.
/// </summary>
public interface IRagIndex
{
    /// <summary>Null when the index can be used; otherwise why not (e.g. sqlite-vec could not be loaded), in one line.</summary>
    string? UnavailableReason { get; }

    /// <summary>Replaces every chunk of <paramref name="fileId"/> in the store with <paramref name="chunks"/>, atomically (idempotent).</summary>
    void ReplaceFileChunks(RagStoreRef store, string fileId, IReadOnlyList<IndexedChunk> chunks);

    /// <summary>Removes the file's chunks from the store.</summary>
    void RemoveFile(RagStoreRef store, string fileId);

    /// <summary>Removes every chunk and the vector storage of the store.</summary>
    void DropStore(RagStoreRef store);

    /// <summary>The <paramref name="k"/> chunks nearest to <paramref name="query"/> (cosine distance, ascending).</summary>
    IReadOnlyList<RankedChunk> SearchVectors(RagStoreRef store, float[] query, int k);

    /// <summary>The <paramref name="k"/> best full-text matches of <paramref name="query"/> (bm25), best first.</summary>
    IReadOnlyList<RankedChunk> SearchText(RagStoreRef store, string query, int k);

    /// <summary>The chunks with these ids (those that exist).</summary>
    IReadOnlyList<StoredChunk> GetChunks(IReadOnlyCollection<long> ids);

    /// <summary>Number of chunks in the store.</summary>
    long CountChunks(RagStoreRef store);
}
