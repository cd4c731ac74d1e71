namespace InferenceMesh.ContextStore.Rag.Ingestion;

/// <summary>Progress of one file's ingestion: chunks embedded so far of the total (0 of 0 while extracting and chunking).</summary>
public readonly record struct IngestProgress(string FileId, int ChunksEmbedded, int ChunksTotal);

/// <summary>Takes (store, file) pairs to ingest in the background; the gateway's implementation is a hosted worker.</summary>
public interface IRagIngestionQueue
{
    void Enqueue(string storeId, string fileId);
}
