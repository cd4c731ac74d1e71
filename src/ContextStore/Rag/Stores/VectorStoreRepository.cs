using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ContextStore.Rag.Stores;

/// <summary>The rows of vector stores and their files (<c>rag_vector_stores</c>, <c>rag_vector_store_files</c>).</summary>
public sealed class VectorStoreRepository(ContextDatabase database)
{
    private const string StoreColumns = """
        s.seq, s.id, s.name, s.privacy, s.embedding_model, s.dimensions, s.max_chunk_tokens, s.chunk_overlap_tokens,
        s.metadata, s.created_at, s.last_active_at,
        (SELECT count(*) FROM rag_vector_store_files f WHERE f.store_seq = s.seq AND f.status = 'in_progress'),
        (SELECT count(*) FROM rag_vector_store_files f WHERE f.store_seq = s.seq AND f.status = 'completed'),
        (SELECT count(*) FROM rag_vector_store_files f WHERE f.store_seq = s.seq AND f.status = 'failed'),
        (SELECT count(*) FROM rag_vector_store_files f WHERE f.store_seq = s.seq AND f.status = 'cancelled'),
        (SELECT coalesce(sum(f.usage_bytes), 0) FROM rag_vector_store_files f WHERE f.store_seq = s.seq)
        """;

    private const string FileColumns = """
        s.id, f.file_id, f.status, f.error_code, f.error_message, f.max_chunk_tokens, f.chunk_overlap_tokens,
        f.attributes, f.usage_bytes, f.chunks, f.created_at
        """;

    public static string NewId() => "vs_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>"vs_" and 24 lowercase hex digits: the only ids <see cref="NewId"/> hands out.</summary>
    public static bool IsWellFormedId(string? id) =>
        id is { Length: 27 } && id.StartsWith("vs_", StringComparison.Ordinal) && !id.AsSpan(3).ContainsAnyExcept("0123456789abcdef");

    /// <summary>Inserts a store and its first files (all "in_progress") in one transaction; the files must exist.</summary>
    public VectorStore Create(string id, string? name, RagPrivacy privacy, string embeddingModel, ChunkingStrategy chunking,
        IReadOnlyDictionary<string, string> metadata, IReadOnlyList<string> fileIds, string attributesJson, long now)
    {
        var created = TryCreate(id, name, privacy, embeddingModel, chunking, metadata, fileIds, attributesJson, now);
        return created.Value ?? throw new InvalidOperationException(created.Error!.Message);
    }

    /// <summary>
    /// Inserts a store and its first files (all "in_progress") in one transaction; nothing when one of the files was
    /// deleted meanwhile (NotFound naming it, <c>file_ids</c>): a delete may come after the caller looked them up. The
    /// store returned is read in the same transaction (a delete right after the commit cannot make it a success without
    /// a value); NotFound naming the store if it is gone even there.
    /// </summary>
    public RagResult<VectorStore> TryCreate(string id, string? name, RagPrivacy privacy, string embeddingModel, ChunkingStrategy chunking,
        IReadOnlyDictionary<string, string> metadata, IReadOnlyList<string> fileIds, string attributesJson, long now)
    {
        var (missing, created) = database.Write<(string? Missing, VectorStore? Created)>((connection, transaction) =>
        {
            var distinct = fileIds.Distinct(StringComparer.Ordinal).ToList();
            if (distinct.FirstOrDefault(f => !FileExists(connection, transaction, f)) is { } gone)
            {
                return (gone, null);
            }

            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO rag_vector_stores(id, name, privacy, embedding_model, dimensions, max_chunk_tokens, chunk_overlap_tokens, metadata, created_at, last_active_at)
                VALUES($id, $name, $privacy, $model, NULL, $max, $overlap, $metadata, $now, $now) RETURNING seq;
                """;
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$name", (object?)name ?? DBNull.Value);
            command.Parameters.AddWithValue("$privacy", RagPrivacyNames.Format(privacy));
            command.Parameters.AddWithValue("$model", embeddingModel);
            command.Parameters.AddWithValue("$max", chunking.MaxChunkTokens);
            command.Parameters.AddWithValue("$overlap", chunking.ChunkOverlapTokens);
            command.Parameters.AddWithValue("$metadata", JsonSerializer.Serialize(metadata, RagStoreJson.Default.IReadOnlyDictionaryStringString));
            command.Parameters.AddWithValue("$now", now);
            var seq = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
            foreach (var fileId in distinct)
            {
                InsertFile(connection, transaction, seq, fileId, chunking, attributesJson, now);
            }

            return (null, FindStore(connection, transaction, id));
        });
        return missing is not null ? RagError.NotFound("file", missing, "file_ids")
            : created is not null ? created
            : RagError.NotFound("vector store", id);
    }

    /// <summary>
    /// Adds a file to a store as "in_progress". Checked in the same transaction, since a concurrent delete may have
    /// removed the file or the store after the caller looked them up.
    /// </summary>
    public AddFileOutcome AddFile(RagStoreRef store, string fileId, ChunkingStrategy chunking, string attributesJson, long now) =>
        database.Write((connection, transaction) =>
        {
            using var storeExists = connection.CreateCommand();
            storeExists.Transaction = transaction;
            storeExists.CommandText = "SELECT count(*) FROM rag_vector_stores WHERE seq = $store;";
            storeExists.Parameters.AddWithValue("$store", store.Seq);
            if (Convert.ToInt64(storeExists.ExecuteScalar(), CultureInfo.InvariantCulture) == 0)
            {
                return AddFileOutcome.StoreGone;
            }

            if (!FileExists(connection, transaction, fileId))
            {
                return AddFileOutcome.FileGone;
            }

            using var exists = connection.CreateCommand();
            exists.Transaction = transaction;
            exists.CommandText = "SELECT count(*) FROM rag_vector_store_files WHERE store_seq = $store AND file_id = $file;";
            exists.Parameters.AddWithValue("$store", store.Seq);
            exists.Parameters.AddWithValue("$file", fileId);
            if (Convert.ToInt64(exists.ExecuteScalar(), CultureInfo.InvariantCulture) > 0)
            {
                return AddFileOutcome.AlreadyThere;
            }

            InsertFile(connection, transaction, store.Seq, fileId, chunking, attributesJson, now);
            Touch(connection, transaction, store.Seq, now);
            return AddFileOutcome.Added;
        });

    /// <summary>Sets a file's status (and error, usage, chunk count); false when the file left the store meanwhile.</summary>
    public bool SetFileStatus(RagStoreRef store, string fileId, string status, string? errorCode, string? errorMessage, long usageBytes, int chunks) =>
        database.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE rag_vector_store_files SET status = $status, error_code = $code, error_message = $message, usage_bytes = $usage, chunks = $chunks
                WHERE store_seq = $store AND file_id = $file;
                """;
            command.Parameters.AddWithValue("$status", status);
            command.Parameters.AddWithValue("$code", (object?)errorCode ?? DBNull.Value);
            command.Parameters.AddWithValue("$message", (object?)errorMessage ?? DBNull.Value);
            command.Parameters.AddWithValue("$usage", usageBytes);
            command.Parameters.AddWithValue("$chunks", chunks);
            command.Parameters.AddWithValue("$store", store.Seq);
            command.Parameters.AddWithValue("$file", fileId);
            return command.ExecuteNonQuery() > 0;
        });

    /// <summary>Records the dimension of the store's vectors the first time it is known.</summary>
    public void SetDimensions(RagStoreRef store, int dimensions) =>
        database.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE rag_vector_stores SET dimensions = coalesce(dimensions, $dimensions) WHERE seq = $store;";
            command.Parameters.AddWithValue("$dimensions", dimensions);
            command.Parameters.AddWithValue("$store", store.Seq);
            return command.ExecuteNonQuery();
        });

    public void TouchStore(RagStoreRef store, long now) =>
        database.Write((connection, transaction) =>
        {
            Touch(connection, transaction, store.Seq, now);
            return 0;
        });

    public VectorStore? Find(string id) => database.Read(connection => FindStore(connection, null, id));

    private static VectorStore? FindStore(SqliteConnection connection, SqliteTransaction? transaction, string id)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {StoreColumns} FROM rag_vector_stores s WHERE s.id = $id;";
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadStore(reader) : null;
    }

    /// <summary>The store whose name is <paramref name="name"/> (the newest when several), or null.</summary>
    public VectorStore? FindByName(string name) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {StoreColumns} FROM rag_vector_stores s WHERE s.name = $name ORDER BY s.created_at DESC, s.seq DESC LIMIT 1;";
        command.Parameters.AddWithValue("$name", name);
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadStore(reader) : null;
    });

    /// <summary>Stores after the cursor <paramref name="after"/>: a store, or a deleted store's place. Null when <paramref name="after"/> was never a store.</summary>
    public IReadOnlyList<VectorStore>? List(bool ascending, int limit, string? after) => database.Read(connection =>
    {
        var cursor = ListCursor.Find(connection,
            "SELECT seq, 0 FROM rag_vector_stores WHERE id = $id UNION ALL SELECT seq, 0 FROM rag_vector_stores_gone WHERE id = $id LIMIT 1;", ("$id", after));
        if (after is not null && cursor is null) return null;
        using var command = connection.CreateCommand();
        var order = ascending ? "ASC" : "DESC";
        var comparison = ascending ? ">" : "<";
        command.CommandText = $"""
            SELECT {StoreColumns} FROM rag_vector_stores s
            WHERE $after IS NULL OR s.seq {comparison} $after
            ORDER BY s.seq {order} LIMIT $limit;
            """;
        ListCursor.Bind(command, cursor);
        command.Parameters.AddWithValue("$limit", limit);
        using var reader = command.ExecuteReader();
        var stores = new List<VectorStore>();
        while (reader.Read())
        {
            stores.Add(ReadStore(reader));
        }

        return (IReadOnlyList<VectorStore>?)stores;
    });

    public VectorStoreFile? FindFile(RagStoreRef store, string fileId) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {FileColumns} FROM rag_vector_store_files f JOIN rag_vector_stores s ON s.seq = f.store_seq WHERE f.store_seq = $store AND f.file_id = $file;";
        command.Parameters.AddWithValue("$store", store.Seq);
        command.Parameters.AddWithValue("$file", fileId);
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadFile(reader) : null;
    });

    /// <summary>
    /// A store's files after the cursor <paramref name="after"/>: a file of the store, or the place of one removed from it.
    /// Null when <paramref name="after"/> was never a file of this store.
    /// </summary>
    public IReadOnlyList<VectorStoreFile>? ListFiles(RagStoreRef store, string? status, bool ascending, int limit, string? after) => database.Read(connection =>
    {
        var cursor = ListCursor.Find(connection,
            "SELECT created_at, rowid FROM rag_vector_store_files WHERE store_seq = $store AND file_id = $id " +
            "UNION ALL SELECT created_at, row FROM rag_vector_store_files_gone WHERE store_seq = $store AND file_id = $id LIMIT 1;",
            ("$id", after), ("$store", store.Seq));
        if (after is not null && cursor is null) return null;
        using var command = connection.CreateCommand();
        var order = ascending ? "ASC" : "DESC";
        var comparison = ascending ? ">" : "<";
        command.CommandText = $"""
            SELECT {FileColumns} FROM rag_vector_store_files f JOIN rag_vector_stores s ON s.seq = f.store_seq
            WHERE f.store_seq = $store AND ($status IS NULL OR f.status = $status)
              AND ($after IS NULL OR (f.created_at, f.rowid) {comparison} ($after, $afterRow))
            ORDER BY f.created_at {order}, f.rowid {order} LIMIT $limit;
            """;
        command.Parameters.AddWithValue("$store", store.Seq);
        command.Parameters.AddWithValue("$status", (object?)status ?? DBNull.Value);
        ListCursor.Bind(command, cursor);
        command.Parameters.AddWithValue("$limit", limit);
        using var reader = command.ExecuteReader();
        var files = new List<VectorStoreFile>();
        while (reader.Read())
        {
            files.Add(ReadFile(reader));
        }

        return (IReadOnlyList<VectorStoreFile>?)files;
    });

    /// <summary>The id of a file of the store with this name and content (SHA-256), or null: lets a CLI re-run skip or resume it.</summary>
    public string? FindFileByContent(RagStoreRef store, string fileName, string sha256) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT f.file_id FROM rag_vector_store_files f JOIN rag_files r ON r.id = f.file_id
            WHERE f.store_seq = $store AND r.filename = $name AND r.sha256 = $sha ORDER BY f.created_at DESC LIMIT 1;
            """;
        command.Parameters.AddWithValue("$store", store.Seq);
        command.Parameters.AddWithValue("$name", fileName);
        command.Parameters.AddWithValue("$sha", sha256);
        return command.ExecuteScalar() as string;
    });

    /// <summary>Every (store, file) still "in_progress": after a restart these are ingested again.</summary>
    public IReadOnlyList<(string StoreId, string FileId)> ListInProgress() => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT s.id, f.file_id FROM rag_vector_store_files f JOIN rag_vector_stores s ON s.seq = f.store_seq WHERE f.status = 'in_progress' ORDER BY f.created_at, f.rowid;";
        using var reader = command.ExecuteReader();
        var pending = new List<(string, string)>();
        while (reader.Read())
        {
            pending.Add((reader.GetString(0), reader.GetString(1)));
        }

        return (IReadOnlyList<(string, string)>)pending;
    });

    /// <summary>The stores that hold <paramref name="fileId"/>.</summary>
    public IReadOnlyList<RagStoreRef> StoresOfFile(string fileId) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT s.seq, s.id FROM rag_vector_store_files f JOIN rag_vector_stores s ON s.seq = f.store_seq WHERE f.file_id = $file;";
        command.Parameters.AddWithValue("$file", fileId);
        using var reader = command.ExecuteReader();
        var stores = new List<RagStoreRef>();
        while (reader.Read())
        {
            stores.Add(new RagStoreRef(reader.GetInt64(0), reader.GetString(1)));
        }

        return (IReadOnlyList<RagStoreRef>)stores;
    });

    /// <summary>For search results: the file name and attributes of each completed (store, file) pair among <paramref name="pairs"/>.</summary>
    public IReadOnlyDictionary<(string StoreId, string FileId), (string FileName, string AttributesJson)> CompletedFiles(IReadOnlyCollection<(string StoreId, string FileId)> pairs) =>
        database.Read(connection =>
        {
            var found = new Dictionary<(string, string), (string, string)>();
            using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT r.filename, f.attributes FROM rag_vector_store_files f
                JOIN rag_vector_stores s ON s.seq = f.store_seq JOIN rag_files r ON r.id = f.file_id
                WHERE s.id = $store AND f.file_id = $file AND f.status = 'completed';
                """;
            var storeParameter = command.Parameters.Add("$store", SqliteType.Text);
            var fileParameter = command.Parameters.Add("$file", SqliteType.Text);
            foreach (var pair in pairs.Distinct())
            {
                storeParameter.Value = pair.StoreId;
                fileParameter.Value = pair.FileId;
                using var reader = command.ExecuteReader();
                if (reader.Read())
                {
                    found[pair] = (reader.GetString(0), reader.GetString(1));
                }
            }

            return (IReadOnlyDictionary<(string, string), (string, string)>)found;
        });

    public bool RemoveFile(RagStoreRef store, string fileId) => database.Write((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM rag_vector_store_files WHERE store_seq = $store AND file_id = $file;";
        command.Parameters.AddWithValue("$store", store.Seq);
        command.Parameters.AddWithValue("$file", fileId);
        return command.ExecuteNonQuery() > 0;
    });

    public bool Delete(RagStoreRef store) => database.Write((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM rag_vector_stores WHERE seq = $store;";
        command.Parameters.AddWithValue("$store", store.Seq);
        return command.ExecuteNonQuery() > 0;
    });

    private static bool FileExists(SqliteConnection connection, SqliteTransaction transaction, string fileId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT count(*) FROM rag_files WHERE id = $file;";
        command.Parameters.AddWithValue("$file", fileId);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private static void InsertFile(SqliteConnection connection, SqliteTransaction transaction, long seq, string fileId, ChunkingStrategy chunking, string attributesJson, long now)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO rag_vector_store_files(store_seq, file_id, status, max_chunk_tokens, chunk_overlap_tokens, attributes, usage_bytes, chunks, created_at)
            VALUES($store, $file, 'in_progress', $max, $overlap, $attributes, 0, 0, $now);
            """;
        command.Parameters.AddWithValue("$store", seq);
        command.Parameters.AddWithValue("$file", fileId);
        command.Parameters.AddWithValue("$max", chunking.MaxChunkTokens);
        command.Parameters.AddWithValue("$overlap", chunking.ChunkOverlapTokens);
        command.Parameters.AddWithValue("$attributes", attributesJson);
        command.Parameters.AddWithValue("$now", now);
        command.ExecuteNonQuery();
    }

    private static void Touch(SqliteConnection connection, SqliteTransaction transaction, long seq, long now)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "UPDATE rag_vector_stores SET last_active_at = $now WHERE seq = $store;";
        command.Parameters.AddWithValue("$now", now);
        command.Parameters.AddWithValue("$store", seq);
        command.ExecuteNonQuery();
    }

    private static VectorStore ReadStore(SqliteDataReader reader)
    {
        RagPrivacyNames.TryParse(reader.GetString(3), out var privacy); // an unknown value reads as confidential
        var metadata = JsonSerializer.Deserialize(reader.GetString(8), RagStoreJson.Default.IReadOnlyDictionaryStringString) ?? new Dictionary<string, string>();
        return new VectorStore(
            reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), privacy, reader.GetString(4),
            reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.GetInt32(6), reader.GetInt32(7), metadata, reader.GetInt64(9), reader.GetInt64(10),
            new VectorStoreFileCounts(reader.GetInt32(11), reader.GetInt32(12), reader.GetInt32(13), reader.GetInt32(14)), reader.GetInt64(15));
    }

    private static VectorStoreFile ReadFile(SqliteDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), reader.GetInt32(6), reader.GetString(7),
        reader.GetInt64(8), reader.GetInt32(9), reader.GetInt64(10));
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
internal sealed partial class RagStoreJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>What <see cref="VectorStoreRepository.AddFile"/> did.</summary>
public enum AddFileOutcome
{
    /// <summary>The file joined the store as "in_progress".</summary>
    Added,

    /// <summary>The file was in the store already; nothing changed.</summary>
    AlreadyThere,

    /// <summary>The file was deleted meanwhile; nothing changed.</summary>
    FileGone,

    /// <summary>The store was deleted meanwhile; nothing changed.</summary>
    StoreGone,
}
