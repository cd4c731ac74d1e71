using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ContextStore.Rag.Index;

/// <summary>
/// The embedded index: chunks in <c>rag_chunks</c>, full text in the FTS5 table <c>rag_chunks_fts</c> (kept in step by
/// triggers), vectors in one sqlite-vec <c>vec0</c> table per store (<c>rag_vec_{seq}</c>, cosine distance on the
/// engine's normalised vectors; created with the store's first chunk, when the dimension is known). vec0 searches
/// exactly (a brute-force scan, no approximation), so its recall against brute force is the benchmark's check.
/// </summary>
public sealed partial class SqliteRagIndex(ContextDatabase database, string sqliteVecPath) : IRagIndex
{
    /// <summary>At most this many query words go into a full-text query.</summary>
    private const int MaxQueryTerms = 64;

    public string? UnavailableReason => database.ExtensionError(sqliteVecPath) is { } error
        ? $"Vector search is unavailable: {error}"
        : null;

    public void ReplaceFileChunks(RagStoreRef store, string fileId, IReadOnlyList<IndexedChunk> chunks)
    {
        ThrowIfUnavailable();
        database.Write((connection, transaction) =>
        {
            if (!StoreExists(connection, transaction, store))
            {
                return 0; // deleted meanwhile (see StoreExists)
            }

            var table = VectorTable(store);
            if (chunks.Count > 0)
            {
                Execute(connection, transaction, string.Create(CultureInfo.InvariantCulture,
                    $"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING vec0(chunk_id INTEGER PRIMARY KEY, embedding float[{chunks[0].Vector.Length}] distance_metric=cosine);"));
            }

            DeleteFileRows(connection, transaction, store, fileId);

            using var insertChunk = connection.CreateCommand();
            insertChunk.Transaction = transaction;
            insertChunk.CommandText = "INSERT INTO rag_chunks(store_seq, file_id, chunk_index, text, tokens) VALUES($store, $file, $index, $text, $tokens) RETURNING id;";
            var storeParameter = insertChunk.Parameters.Add("$store", SqliteType.Integer);
            var fileParameter = insertChunk.Parameters.Add("$file", SqliteType.Text);
            var indexParameter = insertChunk.Parameters.Add("$index", SqliteType.Integer);
            var textParameter = insertChunk.Parameters.Add("$text", SqliteType.Text);
            var tokensParameter = insertChunk.Parameters.Add("$tokens", SqliteType.Integer);

            using var insertVector = connection.CreateCommand();
            insertVector.Transaction = transaction;
            insertVector.CommandText = $"INSERT INTO {table}(chunk_id, embedding) VALUES($id, $embedding);";
            var idParameter = insertVector.Parameters.Add("$id", SqliteType.Integer);
            var embeddingParameter = insertVector.Parameters.Add("$embedding", SqliteType.Blob);

            foreach (var chunk in chunks)
            {
                storeParameter.Value = store.Seq;
                fileParameter.Value = fileId;
                indexParameter.Value = chunk.Index;
                textParameter.Value = chunk.Text;
                tokensParameter.Value = chunk.Tokens;
                var id = Convert.ToInt64(insertChunk.ExecuteScalar(), CultureInfo.InvariantCulture);
                idParameter.Value = id;
                embeddingParameter.Value = ToBlob(chunk.Vector);
                insertVector.ExecuteNonQuery();
            }

            return chunks.Count;
        });
    }

    public void RemoveFile(RagStoreRef store, string fileId) =>
        database.Write((connection, transaction) =>
        {
            if (!StoreExists(connection, transaction, store))
            {
                return 0; // its rows went with it (DropStore); the seq may be another store's now
            }

            if (TableExists(connection, transaction, VectorTable(store)))
            {
                ThrowIfUnavailable();
            }

            DeleteFileRows(connection, transaction, store, fileId);
            return 0;
        });

    public void DropStore(RagStoreRef store) =>
        database.Write((connection, transaction) =>
        {
            var table = VectorTable(store);
            if (TableExists(connection, transaction, table))
            {
                ThrowIfUnavailable();
                Execute(connection, transaction, $"DROP TABLE {table};");
            }

            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM rag_chunks WHERE store_seq = $store;";
            command.Parameters.AddWithValue("$store", store.Seq);
            return command.ExecuteNonQuery();
        });

    public IReadOnlyList<RankedChunk> SearchVectors(RagStoreRef store, float[] query, int k)
    {
        ThrowIfUnavailable();
        return database.Read(connection =>
        {
            var table = VectorTable(store);
            if (!TableExists(connection, null, table))
            {
                return (IReadOnlyList<RankedChunk>)[];
            }

            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT chunk_id, distance FROM {table} WHERE embedding MATCH $query AND k = $k ORDER BY distance;";
            command.Parameters.AddWithValue("$query", ToBlob(query));
            command.Parameters.AddWithValue("$k", k);
            return ReadRanked(command);
        });
    }

    public IReadOnlyList<RankedChunk> SearchText(RagStoreRef store, string query, int k)
    {
        var match = FullTextQuery(query);
        if (match is null)
        {
            return [];
        }

        return database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT c.id, bm25(rag_chunks_fts) AS score
                FROM rag_chunks_fts JOIN rag_chunks c ON c.id = rag_chunks_fts.rowid
                WHERE rag_chunks_fts MATCH $match AND c.store_seq = $store
                ORDER BY score LIMIT $k;
                """;
            command.Parameters.AddWithValue("$match", match);
            command.Parameters.AddWithValue("$store", store.Seq);
            command.Parameters.AddWithValue("$k", k);
            return ReadRanked(command);
        });
    }

    public IReadOnlyList<StoredChunk> GetChunks(IReadOnlyCollection<long> ids)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        return database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            var names = new List<string>(ids.Count);
            var i = 0;
            foreach (var id in ids)
            {
                var name = "$id" + i.ToString(CultureInfo.InvariantCulture);
                command.Parameters.AddWithValue(name, id);
                names.Add(name);
                i++;
            }

            command.CommandText = $"""
                SELECT c.id, s.id, c.file_id, c.chunk_index, c.text
                FROM rag_chunks c JOIN rag_vector_stores s ON s.seq = c.store_seq
                WHERE c.id IN ({string.Join(", ", names)});
                """;
            using var reader = command.ExecuteReader();
            var chunks = new List<StoredChunk>();
            while (reader.Read())
            {
                chunks.Add(new StoredChunk(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetString(4)));
            }

            return (IReadOnlyList<StoredChunk>)chunks;
        });
    }

    public long CountChunks(RagStoreRef store) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM rag_chunks WHERE store_seq = $store;";
        command.Parameters.AddWithValue("$store", store.Seq);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    });

    /// <summary>
    /// The FTS5 query for free text: its words (letters and digits, as FTS5's unicode61 tokenizer sees them), each quoted
    /// so no word is read as an operator, joined with OR so bm25 ranks chunks with more of them first. Null when none.
    /// </summary>
    public static string? FullTextQuery(string text)
    {
        var terms = QueryTerms(text);
        if (terms.Count == 0)
        {
            return null;
        }

        var query = new StringBuilder();
        foreach (var term in terms)
        {
            if (query.Length > 0)
            {
                query.Append(" OR ");
            }

            query.Append('"').Append(term).Append('"');
        }

        return query.ToString();
    }

    /// <summary>The distinct words of <paramref name="text"/> (runs of letters and digits), at most 64, in order: what both indexes search for.</summary>
    public static IReadOnlyList<string> QueryTerms(string text) =>
        [.. QueryWords().Matches(text).Select(m => m.Value).Distinct(StringComparer.OrdinalIgnoreCase).Take(MaxQueryTerms)];

    /// <summary>A vector as sqlite-vec's float32 blob (little-endian, as this machine stores floats).</summary>
    public static byte[] ToBlob(float[] vector) => MemoryMarshal.AsBytes(vector.AsSpan()).ToArray();

    private void ThrowIfUnavailable()
    {
        if (UnavailableReason is { } reason)
        {
            throw new RagIndexUnavailableException(reason);
        }
    }

    private static string VectorTable(RagStoreRef store) => "rag_vec_" + store.Seq.ToString(CultureInfo.InvariantCulture);

    private static void DeleteFileRows(SqliteConnection connection, SqliteTransaction transaction, RagStoreRef store, string fileId)
    {
        var table = VectorTable(store);
        if (TableExists(connection, transaction, table))
        {
            using var vectors = connection.CreateCommand();
            vectors.Transaction = transaction;
            vectors.CommandText = $"DELETE FROM {table} WHERE chunk_id IN (SELECT id FROM rag_chunks WHERE store_seq = $store AND file_id = $file);";
            vectors.Parameters.AddWithValue("$store", store.Seq);
            vectors.Parameters.AddWithValue("$file", fileId);
            vectors.ExecuteNonQuery();
        }

        using var chunks = connection.CreateCommand();
        chunks.Transaction = transaction;
        chunks.CommandText = "DELETE FROM rag_chunks WHERE store_seq = $store AND file_id = $file;";
        chunks.Parameters.AddWithValue("$store", store.Seq);
        chunks.Parameters.AddWithValue("$file", fileId);
        chunks.ExecuteNonQuery();
    }

    /// <summary>
    /// Whether the store is still the one with this seq. A store's seq is given again once it is deleted (the newest
    /// one's, at least), and chunks and vectors are keyed by seq: an ingestion that finished after its store was
    /// deleted (in another process, or between its cancellation check and its write) wrote into the next store made.
    /// </summary>
    private static bool StoreExists(SqliteConnection connection, SqliteTransaction transaction, RagStoreRef store)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT count(*) FROM rag_vector_stores WHERE seq = $seq AND id = $id;";
        command.Parameters.AddWithValue("$seq", store.Seq);
        command.Parameters.AddWithValue("$id", store.Id);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private static bool TableExists(SqliteConnection connection, SqliteTransaction? transaction, string table)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $name;";
        command.Parameters.AddWithValue("$name", table);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static IReadOnlyList<RankedChunk> ReadRanked(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var hits = new List<RankedChunk>();
        while (reader.Read())
        {
            hits.Add(new RankedChunk(reader.GetInt64(0), reader.GetDouble(1)));
        }

        return hits;
    }

    [GeneratedRegex(@"[\p{L}\p{N}]+", RegexOptions.CultureInvariant)]
    private static partial Regex QueryWords();
}

/// <summary>The index cannot be used (sqlite-vec missing, PostgreSQL unreachable or failing); the message is one line and says why.</summary>
public sealed class RagIndexUnavailableException(string message) : Exception(message);
