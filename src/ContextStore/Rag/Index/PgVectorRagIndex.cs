using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Pgvector;
using Pgvector.Npgsql;

namespace InferenceMesh.ContextStore.Rag.Index;

/// <summary>
/// The index on PostgreSQL with pgvector: chunks in <c>rag_chunks</c> with a generated <c>tsvector</c> column under a
/// GIN index (full text, ranked by <c>ts_rank_cd</c> in place of bm25), vectors in one <c>vector(dim)</c> table per
/// store with an HNSW index (cosine distance, approximate: <see cref="PgVectorRagIndexOptions.EfSearch"/> sets the
/// breadth). The schema comes from versioned migrations (<see cref="PgVectorMigrations"/>) applied at first use.
/// Connections come from one pooled <see cref="NpgsqlDataSource"/>. Files, stores and ingestion state stay in the
/// local SQLite context database; only chunks, their vectors and their full text live here.
/// When the server cannot be reached or pgvector is missing, <see cref="UnavailableReason"/> says so in one line
/// (retried after <see cref="PgVectorRagIndexOptions.RetryInterval"/>), and a failure mid-operation surfaces as a
/// <see cref="RagIndexUnavailableException"/> with a one-line message, never as a driver exception.
/// </summary>
public sealed partial class PgVectorRagIndex : IRagIndex, IDisposable
{
    private readonly PgVectorRagIndexOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PgVectorRagIndex> _logger;
    private readonly Lock _setupLock = new();
    private readonly ConcurrentDictionary<string, long> _vectorTables = new(StringComparer.Ordinal);
    private NpgsqlDataSource? _dataSource;
    private string? _setupError;
    private DateTimeOffset _retryAt;

    /// <summary>Checks the options (an invalid connection string throws <see cref="ArgumentException"/> with a one-line message); connects at first use.</summary>
    public PgVectorRagIndex(PgVectorRagIndexOptions options, TimeProvider time, ILogger<PgVectorRagIndex> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Null once the server answered, pgvector is there and the schema is migrated; otherwise why not (connects on first read).</summary>
    public string? UnavailableReason => EnsureReady() is null ? _setupError : null;

    /// <summary>The schema this index uses.</summary>
    public string Schema => _options.Schema;

    public void ReplaceFileChunks(RagStoreRef store, string fileId, IReadOnlyList<IndexedChunk> chunks) => Run(connection =>
    {
        using var transaction = connection.BeginTransaction();
        var (seq, dimensions) = LockStore(connection, transaction, store.Id);
        if (chunks.Count > 0 && dimensions is null)
        {
            dimensions = chunks[0].Vector.Length;
            CreateVectorTable(connection, transaction, seq, dimensions.Value);
        }

        if (chunks.Any(c => c.Vector.Length != dimensions))
        {
            throw new ArgumentException($"Every vector of store {store.Id} must have {dimensions} dimensions.", nameof(chunks));
        }

        // The vectors go with their chunks (ON DELETE CASCADE).
        Execute(connection, transaction, "DELETE FROM rag_chunks WHERE store_seq = @seq AND file_id = @file;", ("seq", seq), ("file", fileId));
        if (chunks.Count > 0)
        {
            var ids = NewChunkIds(connection, transaction, chunks.Count);
            using (var writer = connection.BeginBinaryImport("COPY rag_chunks(id, store_seq, file_id, chunk_index, text, tokens) FROM STDIN (FORMAT BINARY)"))
            {
                for (var i = 0; i < chunks.Count; i++)
                {
                    writer.StartRow();
                    writer.Write(ids[i], NpgsqlDbType.Bigint);
                    writer.Write(seq, NpgsqlDbType.Bigint);
                    writer.Write(fileId, NpgsqlDbType.Text);
                    writer.Write(chunks[i].Index, NpgsqlDbType.Integer);
                    writer.Write(chunks[i].Text.Replace('\0', '\uFFFD'), NpgsqlDbType.Text); // PostgreSQL text cannot hold NUL
                    writer.Write(chunks[i].Tokens, NpgsqlDbType.Integer);
                }

                writer.Complete();
            }

            using (var writer = connection.BeginBinaryImport($"COPY {VectorTable(seq)}(chunk_id, embedding) FROM STDIN (FORMAT BINARY)"))
            {
                for (var i = 0; i < chunks.Count; i++)
                {
                    writer.StartRow();
                    writer.Write(ids[i], NpgsqlDbType.Bigint);
                    writer.Write(new Vector(chunks[i].Vector));
                }

                writer.Complete();
            }
        }

        transaction.Commit();
        if (dimensions is not null)
        {
            _vectorTables[store.Id] = seq;
        }

        return 0;
    });

    public void RemoveFile(RagStoreRef store, string fileId) => Run(connection =>
        Execute(connection, null, "DELETE FROM rag_chunks WHERE store_seq = (SELECT seq FROM rag_stores WHERE id = @store) AND file_id = @file;",
            ("store", store.Id), ("file", fileId)));

    public void DropStore(RagStoreRef store) => Run(connection =>
    {
        using var transaction = connection.BeginTransaction();
        using var find = Command(connection, transaction, "SELECT seq FROM rag_stores WHERE id = @store FOR UPDATE;", ("store", store.Id));
        if (find.ExecuteScalar() is long seq)
        {
            Execute(connection, transaction, $"DROP TABLE IF EXISTS {VectorTable(seq)};");
            Execute(connection, transaction, "DELETE FROM rag_chunks WHERE store_seq = @seq;", ("seq", seq));
            Execute(connection, transaction, "DELETE FROM rag_stores WHERE seq = @seq;", ("seq", seq));
        }

        transaction.Commit();
        _vectorTables.TryRemove(store.Id, out _);
        return 0;
    });

    public IReadOnlyList<RankedChunk> SearchVectors(RagStoreRef store, float[] query, int k) => Run(connection =>
    {
        if (VectorTableOf(connection, store.Id) is not { } seq)
        {
            return (IReadOnlyList<RankedChunk>)[];
        }

        // One round trip: the search breadth for this session (reset when the connection returns to the pool), then the search.
        var efSearch = Math.Clamp(Math.Max(_options.EfSearch, k), 1, 1000);
        using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(string.Create(CultureInfo.InvariantCulture, $"SET hnsw.ef_search = {efSearch};")));
        var search = new NpgsqlBatchCommand($"SELECT chunk_id, embedding <=> @query AS distance FROM {VectorTable(seq)} ORDER BY embedding <=> @query LIMIT @k;");
        search.Parameters.AddWithValue("query", new Vector(query));
        search.Parameters.AddWithValue("k", k);
        batch.BatchCommands.Add(search);
        try
        {
            using var reader = batch.ExecuteReader();
            return ReadRanked(reader);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            _vectorTables.TryRemove(store.Id, out _); // dropped by another process meanwhile
            return [];
        }
    });

    public IReadOnlyList<RankedChunk> SearchText(RagStoreRef store, string query, int k)
    {
        if (TextQuery(query) is not { } tsquery)
        {
            return [];
        }

        return Run(connection =>
        {
            using var command = Command(connection, null, $"""
                SELECT c.id, ts_rank_cd(c.tsv, q) AS score
                FROM rag_chunks c, to_tsquery('{PgVectorDefaults.TextSearchConfig}', @query) q
                WHERE c.store_seq = (SELECT seq FROM rag_stores WHERE id = @store) AND c.tsv @@ q
                ORDER BY score DESC, c.id
                LIMIT @k;
                """, ("query", tsquery), ("store", store.Id), ("k", k));
            using var reader = command.ExecuteReader();
            return ReadRanked(reader);
        });
    }

    public IReadOnlyList<StoredChunk> GetChunks(IReadOnlyCollection<long> ids)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        return Run(connection =>
        {
            using var command = Command(connection, null, """
                SELECT c.id, s.id, c.file_id, c.chunk_index, c.text
                FROM rag_chunks c JOIN rag_stores s ON s.seq = c.store_seq
                WHERE c.id = ANY(@ids);
                """, ("ids", ids.ToArray()));
            using var reader = command.ExecuteReader();
            var chunks = new List<StoredChunk>(ids.Count);
            while (reader.Read())
            {
                chunks.Add(new StoredChunk(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetString(4)));
            }

            return (IReadOnlyList<StoredChunk>)chunks;
        });
    }

    public long CountChunks(RagStoreRef store) => Run(connection =>
    {
        using var command = Command(connection, null, "SELECT count(*) FROM rag_chunks c JOIN rag_stores s ON s.seq = c.store_seq WHERE s.id = @store;", ("store", store.Id));
        return (long)command.ExecuteScalar()!;
    });

    /// <summary>The schema version of module <see cref="PgVectorMigrations.Module"/> in the database, 0 when none.</summary>
    public int SchemaVersion() => Run(connection => CurrentVersion(connection, null));

    /// <summary>
    /// The <c>to_tsquery</c> text for free text: its words (letters and digits), each quoted as a lexeme so no word is
    /// read as an operator, joined with | (OR) so chunks with more of them rank first. Null when none (the same words as
    /// <see cref="SqliteRagIndex.FullTextQuery"/>).
    /// </summary>
    public static string? TextQuery(string text)
    {
        var terms = SqliteRagIndex.QueryTerms(text);
        return terms.Count == 0 ? null : string.Join(" | ", terms.Select(t => "'" + t + "'"));
    }

    public void Dispose()
    {
        lock (_setupLock)
        {
            _dataSource?.Dispose();
            _dataSource = null;
        }
    }

    // ---- set-up ----

    /// <summary>The ready data source, or null with <see cref="_setupError"/> set (tried again after the retry interval).</summary>
    private NpgsqlDataSource? EnsureReady()
    {
        if (Volatile.Read(ref _dataSource) is { } ready)
        {
            return ready;
        }

        lock (_setupLock)
        {
            if (_dataSource is not null)
            {
                return _dataSource;
            }

            if (_setupError is not null && _time.GetUtcNow() < _retryAt)
            {
                return null;
            }

            try
            {
                var extensionSchema = Setup();
                var builder = new NpgsqlDataSourceBuilder(_options.ConnectionString);
                builder.ConnectionStringBuilder.SearchPath = $"{_options.Schema}, {QuoteIdentifier(extensionSchema)}";
                builder.UseVector();
                Volatile.Write(ref _dataSource, builder.Build());
                _setupError = null;
                Log.Ready(_logger, _options.Schema);
                return _dataSource;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or SetupException)
            {
                _setupError = "The PostgreSQL RAG index is unavailable: " + Describe(ex);
                _retryAt = _time.GetUtcNow() + _options.RetryInterval;
                Log.SetupFailed(_logger, _setupError);
                return null;
            }
        }
    }

    /// <summary>Checks pgvector, creates the schema and applies the migrations (under an advisory lock, so concurrent starts wait); returns pgvector's schema.</summary>
    private string Setup()
    {
        using var bootstrap = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(_options.ConnectionString) { Pooling = false });
        using var connection = bootstrap.OpenConnection();
        var extensionSchema = ExtensionSchema(connection);
        if (extensionSchema is null)
        {
            try
            {
                Execute(connection, null, "CREATE EXTENSION IF NOT EXISTS vector;");
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InsufficientPrivilege)
            {
                throw new SetupException(
                    $"the pgvector extension is not created in database '{connection.Database}' and role '{RoleOf(connection)}' may not create it: run CREATE EXTENSION vector; in that database as a superuser (tools/setup-test-postgres.sh does so for the test database).");
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UndefinedFile or PostgresErrorCodes.FeatureNotSupported)
            {
                throw new SetupException(
                    $"pgvector is not installed on the PostgreSQL server {connection.Host}:{connection.Port} (tools/install-pgvector.sh builds and installs it): {OneLine(ex.MessageText)}");
            }

            extensionSchema = ExtensionSchema(connection) ?? throw new SetupException("CREATE EXTENSION vector succeeded but the extension is not listed.");
        }

        Execute(connection, null, $"SET search_path = {_options.Schema}, {QuoteIdentifier(extensionSchema)};");
        using (var transaction = connection.BeginTransaction())
        {
            Execute(connection, transaction, "SELECT pg_advisory_xact_lock(hashtext(@key));", ("key", "inference-mesh:" + _options.Schema));
            Execute(connection, transaction, $"CREATE SCHEMA IF NOT EXISTS {_options.Schema};");
            Execute(connection, transaction, """
                CREATE TABLE IF NOT EXISTS schema_migrations(
                    module text NOT NULL,
                    version integer NOT NULL,
                    applied_utc timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY(module, version));
                """);
            var current = CurrentVersion(connection, transaction);
            var newest = PgVectorMigrations.All.Max(m => m.Version);
            if (current > newest)
            {
                throw new SetupException($"schema '{_options.Schema}' has {PgVectorMigrations.Module} version {current}; this build knows {newest}.");
            }

            // Applied in one transaction with the lock: PostgreSQL's DDL is transactional, so a failure leaves no half schema.
            foreach (var migration in PgVectorMigrations.All.Where(m => m.Version > current).OrderBy(m => m.Version))
            {
                Execute(connection, transaction, migration.Sql);
                Execute(connection, transaction, "INSERT INTO schema_migrations(module, version) VALUES(@module, @version);",
                    ("module", migration.Module), ("version", migration.Version));
            }

            transaction.Commit();
        }

        return extensionSchema;
    }

    private static string? ExtensionSchema(NpgsqlConnection connection)
    {
        using var command = Command(connection, null, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector';");
        return command.ExecuteScalar() as string;
    }

    private static string RoleOf(NpgsqlConnection connection)
    {
        using var command = Command(connection, null, "SELECT current_user;");
        return command.ExecuteScalar() as string ?? "?";
    }

    private static int CurrentVersion(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        using var command = Command(connection, transaction,
            "SELECT coalesce(max(version), 0) FROM schema_migrations WHERE module = @module;", ("module", PgVectorMigrations.Module));
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    // ---- helpers ----

    /// <summary>Runs <paramref name="work"/> on a pooled connection; driver failures become one-line <see cref="RagIndexUnavailableException"/>s.</summary>
    private T Run<T>(Func<NpgsqlConnection, T> work)
    {
        var dataSource = EnsureReady() ?? throw new RagIndexUnavailableException(_setupError ?? "The PostgreSQL RAG index is unavailable.");
        try
        {
            using var connection = dataSource.OpenConnection();
            return work(connection);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            var message = "The PostgreSQL RAG index failed: " + Describe(ex);
            Log.OperationFailed(_logger, ex is PostgresException postgres ? postgres.SqlState : ex.GetType().Name, ex);
            throw new RagIndexUnavailableException(message);
        }
    }

    /// <summary>Locks the store's row for this transaction (creating it when new): writers of one store queue here.</summary>
    private static (long Seq, int? Dimensions) LockStore(NpgsqlConnection connection, NpgsqlTransaction transaction, string storeId)
    {
        Execute(connection, transaction, "INSERT INTO rag_stores(id) VALUES(@store) ON CONFLICT(id) DO NOTHING;", ("store", storeId));
        using var command = Command(connection, transaction, "SELECT seq, dimensions FROM rag_stores WHERE id = @store FOR UPDATE;", ("store", storeId));
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt32(1));
    }

    private void CreateVectorTable(NpgsqlConnection connection, NpgsqlTransaction transaction, long seq, int dimensions)
    {
        var table = VectorTable(seq);
        Execute(connection, transaction, string.Create(CultureInfo.InvariantCulture, $"""
            CREATE TABLE {table}(
                chunk_id bigint PRIMARY KEY REFERENCES rag_chunks(id) ON DELETE CASCADE,
                embedding vector({dimensions}) NOT NULL);
            CREATE INDEX {table}_hnsw ON {table} USING hnsw (embedding vector_cosine_ops) WITH (m = {_options.HnswM}, ef_construction = {_options.HnswEfConstruction});
            UPDATE rag_stores SET dimensions = {dimensions} WHERE seq = {seq};
            """));
    }

    private long? VectorTableOf(NpgsqlConnection connection, string storeId)
    {
        if (_vectorTables.TryGetValue(storeId, out var known))
        {
            return known;
        }

        using var command = Command(connection, null, "SELECT seq FROM rag_stores WHERE id = @store AND dimensions IS NOT NULL;", ("store", storeId));
        if (command.ExecuteScalar() is long seq)
        {
            _vectorTables[storeId] = seq;
            return seq;
        }

        return null;
    }

    private static long[] NewChunkIds(NpgsqlConnection connection, NpgsqlTransaction transaction, int count)
    {
        using var command = Command(connection, transaction, "SELECT nextval(pg_get_serial_sequence('rag_chunks', 'id')) FROM generate_series(1, @count);", ("count", count));
        using var reader = command.ExecuteReader();
        var ids = new long[count];
        for (var i = 0; reader.Read(); i++)
        {
            ids[i] = reader.GetInt64(0);
        }

        return ids;
    }

    private static string VectorTable(long seq) => "rag_vec_" + seq.ToString(CultureInfo.InvariantCulture);

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }

    private static int Execute(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    private static IReadOnlyList<RankedChunk> ReadRanked(NpgsqlDataReader reader)
    {
        var hits = new List<RankedChunk>();
        while (reader.Read())
        {
            hits.Add(new RankedChunk(reader.GetInt64(0), reader.GetDouble(1)));
        }

        return hits;
    }

    /// <summary>One line for a client or a log: the server's message and SQLSTATE, or the connection failure; never row data.</summary>
    private static string Describe(Exception ex) => ex switch
    {
        PostgresException postgres => $"{OneLine(postgres.MessageText)} (SQLSTATE {postgres.SqlState})",
        NpgsqlException { InnerException: SocketException socket } => $"cannot connect to the server ({OneLine(socket.Message)}); is it running? (tools/setup-test-postgres.sh starts the test server)",
        NpgsqlException { InnerException: TimeoutException } or TimeoutException => "the server did not answer in time",
        _ => OneLine(ex.Message),
    };

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    /// <summary>An expected set-up failure (pgvector missing, schema too new): its message is the reason, in one line.</summary>
    private sealed class SetupException(string message) : Exception(message);

    private static partial class Log
    {
        [LoggerMessage(EventId = 3110, Level = LogLevel.Information, Message = "PostgreSQL RAG index ready (schema {Schema})")]
        public static partial void Ready(ILogger logger, string schema);

        [LoggerMessage(EventId = 3111, Level = LogLevel.Warning, Message = "{Reason}")]
        public static partial void SetupFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 3112, Level = LogLevel.Error, Message = "PostgreSQL RAG index operation failed ({Code})")]
        public static partial void OperationFailed(ILogger logger, string code, Exception exception);
    }
}
