using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.Tests;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.ContextStore.Tests.Rag;

/// <summary>
/// What only the PostgreSQL index has: versioned migrations in its schema, an HNSW index per store, atomic replacement
/// on the server, full-text ranking, and one clear line (never a driver exception) when the server or pgvector is missing.
/// </summary>
public sealed class PgVectorRagIndexTests : IDisposable
{
    private readonly RagFixture _rag = new(backend: RagIndexBackend.Postgres);

    public void Dispose() => _rag.Dispose();

    private string Schema => _rag.Schema!;

    private RagStoreRef NewStore()
    {
        var store = _rag.Stores.Create(VectorStoreRepository.NewId(), null, RagPrivacy.Public, HashingEmbedder.Model, ChunkingStrategy.Default, new Dictionary<string, string>(), [], "{}", 0);
        return new RagStoreRef(store.Seq, store.Id);
    }

    private IndexedChunk Chunk(int index, string text) => new(index, text, 4, _rag.Embedder.Embed(text));

    [Fact]
    public void Migrations_are_versioned_in_the_schema_and_run_once()
    {
        Assert.Null(_rag.Index.UnavailableReason);
        var index = (PgVectorRagIndex)_rag.Index;
        Assert.Equal(PgVectorMigrations.All.Count, index.SchemaVersion());

        using var second = new PgVectorRagIndex(TestPostgres.Options(Schema), TimeProvider.System, NullLogger<PgVectorRagIndex>.Instance);
        Assert.Null(second.UnavailableReason); // a second start on the same schema applies nothing again

        Assert.Equal(PgVectorMigrations.All.Count, TestPostgres.Scalar<long>(Schema, "SELECT count(*) FROM schema_migrations WHERE module = 'rag-index';"));
    }

    [Fact]
    public void A_store_gets_a_vector_table_of_its_dimension_with_an_hnsw_cosine_index()
    {
        var store = NewStore();
        _rag.Index.ReplaceFileChunks(store, "file-a", [Chunk(0, "the walrus sleeps"), Chunk(1, "on the ice")]);

        // pg_get_indexdef only in the select list, on this schema's rows: pg_indexes filtered on its indexdef column let the
        // planner run it on every index in the database, including those of another test's schema being dropped at that
        // moment ("could not open relation with OID …").
        var definition = TestPostgres.Scalar<string>(Schema,
            "SELECT pg_get_indexdef(i.oid) FROM pg_class i JOIN pg_am am ON am.oid = i.relam JOIN pg_index x ON x.indexrelid = i.oid " +
            "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = i.relnamespace " +
            "WHERE n.nspname = @schema AND i.relkind = 'i' AND am.amname = 'hnsw' AND t.relname LIKE 'rag\\_vec\\_%';", ("schema", Schema));
        Assert.Contains("vector_cosine_ops", definition, StringComparison.Ordinal);
        Assert.Equal("vector(32)", TestPostgres.Scalar<string>(Schema,
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = @schema AND c.relname LIKE 'rag\\_vec\\_%' AND a.attname = 'embedding';",
            ("schema", Schema)));
        Assert.Equal(2, _rag.Index.CountChunks(store));
    }

    [Fact]
    public void A_replacement_that_fails_on_the_server_leaves_the_previous_chunks_untouched()
    {
        var store = NewStore();
        _rag.Index.ReplaceFileChunks(store, "file-a", [Chunk(0, "first version one"), Chunk(1, "first version two")]);

        // Two chunks with the same index break the unique key in the middle of the COPY: the transaction rolls back.
        var failure = Assert.Throws<RagIndexUnavailableException>(() =>
            _rag.Index.ReplaceFileChunks(store, "file-a", [Chunk(0, "second version"), Chunk(0, "duplicate index")]));

        Assert.DoesNotContain('\n', failure.Message);
        Assert.Contains("23505", failure.Message, StringComparison.Ordinal); // unique_violation
        Assert.DoesNotContain("second version", failure.Message, StringComparison.Ordinal);
        var texts = _rag.Index.GetChunks([.. _rag.Index.SearchVectors(store, _rag.Embedder.Embed("first version"), 10).Select(h => h.ChunkId)]).Select(c => c.Text).Order();
        Assert.Equal(["first version one", "first version two"], texts);
    }

    [Fact]
    public void Full_text_ranks_chunks_with_more_of_the_query_words_first_and_keeps_stores_apart()
    {
        var store = NewStore();
        var other = NewStore();
        _rag.Index.ReplaceFileChunks(store, "file-a", [Chunk(0, "a walrus"), Chunk(1, "the walrus sleeps on the ice"), Chunk(2, "a seal")]);
        _rag.Index.ReplaceFileChunks(other, "file-a", [Chunk(0, "walrus ice walrus ice")]);

        var hits = _rag.Index.SearchText(store, "Walrus ICE (sleeps)", 10);

        var texts = _rag.Index.GetChunks([.. hits.Select(h => h.ChunkId)]).ToDictionary(c => c.Id, c => c.Text);
        Assert.Equal(["the walrus sleeps on the ice", "a walrus"], hits.Select(h => texts[h.ChunkId]));
        Assert.True(hits[0].Score > hits[1].Score);
        Assert.Empty(_rag.Index.SearchText(store, "*** ()", 10));
    }

    [Fact]
    public void A_bad_connection_string_is_refused_at_once_with_one_line_and_without_the_password()
    {
        var error = Assert.Throws<ArgumentException>(() => new PgVectorRagIndex(
            new PgVectorRagIndexOptions { ConnectionString = "Host=127.0.0.1;Password=hunter2;Bogus Keyword=1" }, TimeProvider.System, NullLogger<PgVectorRagIndex>.Instance));

        Assert.StartsWith("The PostgreSQL connection string is invalid:", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
        Assert.Contains("must be lower-case", new PgVectorRagIndexOptions { ConnectionString = "Host=x", Schema = "Bad-Name" }.Validate(), StringComparison.Ordinal);
        Assert.Contains("empty", PgVectorRagIndexOptions.ConnectionStringError(""), StringComparison.Ordinal);
    }
}

/// <summary>The index without a usable server: every entry point answers with one clear line.</summary>
public sealed class PgVectorUnavailableTests
{
    [Fact]
    public void An_unreachable_server_makes_vector_stores_unavailable_with_one_line_saying_so()
    {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        var options = new RagOptions
        {
            Postgres = new PgVectorRagIndexOptions { ConnectionString = "Host=127.0.0.1;Port=1;Database=x;Username=x;Password=secret;Timeout=2", Schema = "t_unreachable" },
        };
        using var index = new PgVectorRagIndex(options.Postgres, TimeProvider.System, NullLogger<PgVectorRagIndex>.Instance);

        var reason = index.UnavailableReason;

        Assert.NotNull(reason);
        Assert.StartsWith("The PostgreSQL RAG index is unavailable: cannot connect to the server", reason, StringComparison.Ordinal);
        Assert.Contains("tools/setup-test-postgres.sh", reason, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', reason);
        Assert.DoesNotContain("secret", reason, StringComparison.Ordinal);
        var write = Assert.Throws<RagIndexUnavailableException>(() => index.ReplaceFileChunks(new RagStoreRef(1, "vs_x"), "file-x", []));
        Assert.Equal(reason, write.Message);
    }

    [Fact]
    public void A_database_without_pgvector_names_the_statement_that_fixes_it()
    {
        TestPostgres.NewSchema(); // fails with the set-up hint when the test server is not there
        var connection = new Npgsql.NpgsqlConnectionStringBuilder(TestPostgres.ConnectionString) { Database = "postgres" }.ToString();
        using var index = new PgVectorRagIndex(new PgVectorRagIndexOptions { ConnectionString = connection, Schema = "t_no_extension" }, TimeProvider.System, NullLogger<PgVectorRagIndex>.Instance);

        var reason = index.UnavailableReason;

        Assert.NotNull(reason);
        Assert.Contains("CREATE EXTENSION vector", reason, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', reason);
    }
}
