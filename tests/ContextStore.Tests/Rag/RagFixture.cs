using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Files;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Ingestion;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.ContextStore.Tests.Rag;

/// <summary>A real context database (temporary folder, sqlite-vec from the build) with the RAG module over a <see cref="HashingEmbedder"/>.</summary>
internal sealed class RagFixture : IDisposable
{
    public RagFixture(string? sqliteVecPath = null, RagOptions? options = null)
    {
        Directory = Path.Combine(Path.GetTempPath(), "im-rag-" + Guid.NewGuid().ToString("N"));
        var vec = sqliteVecPath ?? SqliteVec.LibraryPath;
        Database = ContextDatabase.Open(new ContextStoreOptions { DataDirectory = Directory, Extensions = [vec] }, RagMigrations.All);
        Options = options ?? new RagOptions { EmbeddingBatchSize = 4 };
        Index = new SqliteRagIndex(Database, vec);
        Files = new RagFileStore(Database, Options, TimeProvider.System);
        Stores = new VectorStoreRepository(Database);
        Rag = new RagService(Database, Files, Stores, Index, Embedder, Options, TimeProvider.System, NullLogger<RagService>.Instance, Array.Empty<IRagIngestionQueue>());
    }

    public string Directory { get; }

    public ContextDatabase Database { get; }

    public RagOptions Options { get; }

    public HashingEmbedder Embedder { get; } = new();

    public SqliteRagIndex Index { get; }

    public RagFileStore Files { get; }

    public VectorStoreRepository Stores { get; }

    public RagService Rag { get; }

    public async Task<string> AddTextFileAsync(string text, string name = "doc.txt")
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
        var file = await Rag.AddFileAsync(stream, name, "assistants", CancellationToken.None);
        Assert.True(file.Succeeded, file.Error?.Message);
        return file.Value!.Id;
    }

    public async Task<VectorStore> CreateStoreAsync(ChunkingStrategy? chunking = null, params string[] fileIds)
    {
        var store = await Rag.CreateStoreAsync(new CreateVectorStore { FileIds = fileIds, Chunking = chunking ?? new ChunkingStrategy(100, 0) }, CancellationToken.None);
        Assert.True(store.Succeeded, store.Error?.Message);
        return store.Value!;
    }

    public long ChunkRows(string storeId, string? fileId = null) => Database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM rag_chunks c JOIN rag_vector_stores s ON s.seq = c.store_seq WHERE s.id = $s AND ($f IS NULL OR c.file_id = $f);";
        command.Parameters.AddWithValue("$s", storeId);
        command.Parameters.AddWithValue("$f", (object?)fileId ?? DBNull.Value);
        return (long)command.ExecuteScalar()!;
    });

    public void Dispose()
    {
        Database.Dispose();
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
