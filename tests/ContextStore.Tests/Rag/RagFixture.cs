using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Files;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Ingestion;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;
using InferenceMesh.Tests;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.ContextStore.Tests.Rag;

/// <summary>Where a fixture's chunks and vectors live.</summary>
public enum RagIndexBackend
{
    /// <summary><see cref="SqliteRagIndex"/>: sqlite-vec + FTS5 in the context database.</summary>
    Sqlite,

    /// <summary><see cref="PgVectorRagIndex"/> on the test PostgreSQL server, in a schema of its own.</summary>
    Postgres,
}

/// <summary>
/// A real context database (temporary folder, sqlite-vec from the build) with the RAG module over a
/// <see cref="HashingEmbedder"/>, and the index of <see cref="Backend"/> (PostgreSQL: a fresh schema, dropped on dispose).
/// </summary>
internal sealed class RagFixture : IDisposable
{
    public RagFixture(string? sqliteVecPath = null, RagOptions? options = null, RagIndexBackend backend = RagIndexBackend.Sqlite)
    {
        Backend = backend;
        Directory = Path.Combine(Path.GetTempPath(), "im-rag-" + Guid.NewGuid().ToString("N"));
        var vec = sqliteVecPath ?? SqliteVec.LibraryPath;
        Database = ContextDatabase.Open(new ContextStoreOptions { DataDirectory = Directory, Extensions = [vec] }, RagMigrations.All);
        Options = options ?? new RagOptions { EmbeddingBatchSize = 4 };
        if (backend == RagIndexBackend.Postgres)
        {
            Schema = TestPostgres.NewSchema();
            Index = new PgVectorRagIndex(TestPostgres.Options(Schema), TimeProvider.System, NullLogger<PgVectorRagIndex>.Instance);
        }
        else
        {
            Index = new SqliteRagIndex(Database, vec);
        }

        Files = new RagFileStore(Database, Options, TimeProvider.System);
        Stores = new VectorStoreRepository(Database);
        Rag = new RagService(Database, Files, Stores, Index, Embedder, Options, TimeProvider.System, NullLogger<RagService>.Instance, Array.Empty<IRagIngestionQueue>());
    }

    public string Directory { get; }

    public ContextDatabase Database { get; }

    public RagOptions Options { get; }

    public HashingEmbedder Embedder { get; } = new();

    public RagIndexBackend Backend { get; }

    /// <summary>The PostgreSQL schema of this fixture (Postgres only).</summary>
    public string? Schema { get; }

    public IRagIndex Index { get; }

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

    /// <summary>Chunk rows of the store (and file) in the index's own storage, counted with SQL, not through the index.</summary>
    public long ChunkRows(string storeId, string? fileId = null)
    {
        if (Schema is { } schema)
        {
            return TestPostgres.Scalar<long>(schema,
                "SELECT count(*) FROM rag_chunks c JOIN rag_stores s ON s.seq = c.store_seq WHERE s.id = @s AND (@f::text IS NULL OR c.file_id = @f::text);",
                ("s", storeId), ("f", (object?)fileId ?? DBNull.Value));
        }

        return Database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM rag_chunks c JOIN rag_vector_stores s ON s.seq = c.store_seq WHERE s.id = $s AND ($f IS NULL OR c.file_id = $f);";
            command.Parameters.AddWithValue("$s", storeId);
            command.Parameters.AddWithValue("$f", (object?)fileId ?? DBNull.Value);
            return (long)command.ExecuteScalar()!;
        });
    }

    /// <summary>How many per-store vector tables (<c>rag_vec_*</c>) exist in the index's storage.</summary>
    public long VectorTables()
    {
        if (Schema is { } schema)
        {
            return TestPostgres.Scalar<long>(schema, "SELECT count(*) FROM pg_tables WHERE schemaname = @schema AND tablename LIKE 'rag\\_vec\\_%';", ("schema", schema));
        }

        return Database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name GLOB 'rag_vec_*' AND sql LIKE 'CREATE VIRTUAL TABLE%';";
            return (long)command.ExecuteScalar()!;
        });
    }

    public void Dispose()
    {
        (Index as IDisposable)?.Dispose();
        if (Schema is { } schema)
        {
            TestPostgres.DropSchema(schema);
        }

        Database.Dispose();
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
