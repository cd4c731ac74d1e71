using System.Globalization;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ModelCache.Store;

/// <summary>
/// The manifest: <c>manifest.db</c> (SQLite, WAL, busy_timeout) beside the blobs. Schema (user_version 2):
/// <c>models</c> (name → digest, size, loose file and its stamp, status, lineage, GGUF metadata),
/// <c>sources</c> (digest → URLs in order) and, from version 2, <c>adapters</c> (LoRA adapter name → digest and the
/// base model it was validated against). Each version's migration runs once, in order, in its own transaction. Every digest read back is re-validated by <see cref="Sha256Digest"/>;
/// a row that fails is ignored, never turned into a path. Each call opens a pooled connection, so one instance may be
/// used from several threads and processes.
/// </summary>
internal sealed partial class ModelManifest
{
    private const int SchemaVersion = 2;

    private const string SchemaVersion1 = """
        CREATE TABLE IF NOT EXISTS models(
            name TEXT PRIMARY KEY NOT NULL,
            digest TEXT NOT NULL CHECK(length(digest) = 64),
            size INTEGER NOT NULL,
            loose_file TEXT NULL,
            loose_mtime INTEGER NULL,
            loose_inode INTEGER NULL,
            status TEXT NOT NULL DEFAULT 'ok',
            source_digest TEXT NULL,
            quantization_type TEXT NULL,
            architecture TEXT NULL,
            parameter_count INTEGER NOT NULL DEFAULT 0,
            quantization TEXT NULL,
            context_length INTEGER NULL,
            license TEXT NULL,
            has_chat_template INTEGER NOT NULL DEFAULT 0,
            added_utc TEXT NOT NULL
        ) STRICT;
        CREATE INDEX IF NOT EXISTS models_digest ON models(digest);
        CREATE TABLE IF NOT EXISTS sources(
            digest TEXT NOT NULL CHECK(length(digest) = 64),
            url TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY(digest, url)
        ) STRICT;
        """;

    private const string SchemaVersion2 = """
        CREATE TABLE IF NOT EXISTS adapters(
            name TEXT PRIMARY KEY NOT NULL,
            digest TEXT NOT NULL CHECK(length(digest) = 64),
            size INTEGER NOT NULL,
            base_name TEXT NOT NULL,
            base_digest TEXT NOT NULL CHECK(length(base_digest) = 64),
            architecture TEXT NOT NULL,
            alpha REAL NULL,
            rank INTEGER NOT NULL,
            tensor_pairs INTEGER NOT NULL,
            default_scale REAL NOT NULL DEFAULT 1.0,
            added_utc TEXT NOT NULL
        ) STRICT;
        CREATE INDEX IF NOT EXISTS adapters_digest ON adapters(digest);
        CREATE INDEX IF NOT EXISTS adapters_base ON adapters(base_name);
        """;

    /// <summary>Migrations[v] brings a manifest from version v to v + 1.</summary>
    private static readonly string[] Migrations = [SchemaVersion1, SchemaVersion2];

    private readonly StoreLayout _layout;
    private readonly string _connectionString;

    private ModelManifest(StoreLayout layout, SqliteOpenMode mode)
    {
        _layout = layout;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = layout.Manifest,
            Mode = mode,
            Pooling = true,
            DefaultTimeout = StoreDefaults.BusyTimeoutMilliseconds / 1000,
        }.ToString();
    }

    /// <summary>Creates the manifest (and the store's folders) when missing.</summary>
    /// <exception cref="ModelStoreOpenException">The manifest is not a database SQLite can read, or a newer build's.</exception>
    public static ModelManifest OpenOrCreate(StoreLayout layout)
    {
        layout.EnsureFolders();
        var manifest = new ModelManifest(layout, SqliteOpenMode.ReadWriteCreate);
        try
        {
            using var connection = manifest.Open();
            using (var wal = connection.CreateCommand())
            {
                // WAL persists in the file; readers (the gateway's catalog) never block the writer (a pull or a verify).
                wal.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;";
                wal.ExecuteNonQuery();
            }

            Migrate(connection, layout.Manifest);
        }
        catch (SqliteException e)
        {
            // A damaged or foreign file: an unhandled exception with a stack trace stopped the gateway and every command.
            throw new ModelStoreOpenException(
                $"The models folder's manifest '{layout.Manifest}' cannot be opened: {e.Message} Nothing was changed; restore it from " +
                "a backup, or move it away to start an empty one (models pulled into the store must then be pulled again; " +
                ".gguf files in the folder are listed as before).", e);
        }

        return manifest;
    }

    /// <summary>The schema version of an open manifest.</summary>
    internal static int ReadVersion(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>Runs the missing migrations, each in a write transaction that re-reads the version (other processes may race).</summary>
    private static void Migrate(SqliteConnection connection, string path)
    {
        while (true)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            var version = ReadVersion(connection, transaction);
            if (version > SchemaVersion)
            {
                throw new ModelStoreOpenException($"The models folder's manifest '{path}' has schema version {version}; this build knows {SchemaVersion} (a newer inference-mesh wrote it). Nothing was changed.");
            }

            if (version == SchemaVersion)
            {
                transaction.Commit();
                return;
            }

            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = Migrations[version] + $"PRAGMA user_version = {version + 1};";
            command.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    /// <summary>Opens an existing manifest without creating anything, or null when there is none.</summary>
    public static ModelManifest? OpenExisting(StoreLayout layout) =>
        File.Exists(layout.Manifest) ? new ModelManifest(layout, SqliteOpenMode.ReadWrite) : null;

    public IReadOnlyList<StoredModel> List(string? name = null)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT name, digest, size, loose_file, loose_mtime, loose_inode, status, source_digest, quantization_type,
                   architecture, parameter_count, quantization, context_length, license, has_chat_template, added_utc
            FROM models
            """ + (name is null ? "" : " WHERE name = $name") + " ORDER BY name;";
        if (name is not null)
        {
            command.Parameters.AddWithValue("$name", name);
        }

        var rows = new List<StoredModel>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                if (ToModel(reader) is { } model)
                {
                    rows.Add(model);
                }
            }
        }

        if (rows.Count == 0)
        {
            return rows;
        }

        var sources = ReadSources(connection);
        return rows.Select(m => m with { Sources = sources.TryGetValue(m.Digest.Hex, out var urls) ? urls : [] }).ToList();
    }

    public StoredModel? Find(string name) => List(name) is [var model] ? model : null;

    /// <summary>Inserts or replaces the name's row and appends any new sources of its digest.</summary>
    public void Upsert(StoredModel model)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = """
                INSERT OR REPLACE INTO models(name, digest, size, loose_file, loose_mtime, loose_inode, status, source_digest,
                    quantization_type, architecture, parameter_count, quantization, context_length, license, has_chat_template, added_utc)
                VALUES($name, $digest, $size, $loose, $mtime, $inode, $status, $sourceDigest, $quantType, $arch, $params, $quant,
                    $ctx, $license, $template, $added);
                """;
            var p = command.Parameters;
            p.AddWithValue("$name", model.Name);
            p.AddWithValue("$digest", model.Digest.Hex);
            p.AddWithValue("$size", model.SizeBytes);
            p.AddWithValue("$loose", (object?)model.LooseFileName ?? DBNull.Value);
            p.AddWithValue("$mtime", model.LooseFileName is null ? DBNull.Value : model.LooseStamp.LastWriteUtcTicks);
            p.AddWithValue("$inode", model.LooseFileName is null ? DBNull.Value : unchecked((long)model.LooseStamp.Inode));
            p.AddWithValue("$status", StatusText(model.Status));
            p.AddWithValue("$sourceDigest", (object?)model.Lineage?.SourceDigest?.Hex ?? DBNull.Value);
            p.AddWithValue("$quantType", (object?)model.Lineage?.QuantizationType ?? DBNull.Value);
            p.AddWithValue("$arch", (object?)model.Metadata.Architecture ?? DBNull.Value);
            p.AddWithValue("$params", model.Metadata.ParameterCount);
            p.AddWithValue("$quant", (object?)model.Metadata.Quantization ?? DBNull.Value);
            p.AddWithValue("$ctx", (object?)model.Metadata.ContextLength ?? DBNull.Value);
            p.AddWithValue("$license", (object?)model.Metadata.License ?? DBNull.Value);
            p.AddWithValue("$template", model.Metadata.HasChatTemplate ? 1 : 0);
            p.AddWithValue("$added", model.AddedUtc.ToString("O", CultureInfo.InvariantCulture));
            command.ExecuteNonQuery();
        }

        AddSources(connection, transaction, model.Digest, model.Sources);
        transaction.Commit();
    }

    public bool Remove(string name)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM models WHERE name = $name;";
        command.Parameters.AddWithValue("$name", name);
        return command.ExecuteNonQuery() > 0;
    }

    /// <summary>How many names still point at <paramref name="digest"/> as a blob (not as a loose file).</summary>
    public int BlobReferences(Sha256Digest digest)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT (SELECT count(*) FROM models WHERE digest = $digest AND loose_file IS NULL)
                 + (SELECT count(*) FROM adapters WHERE digest = $digest);
            """;
        command.Parameters.AddWithValue("$digest", digest.Hex);
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public void RemoveSourcesIfUnreferenced(Sha256Digest digest)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM sources WHERE digest = $digest AND NOT EXISTS (SELECT 1 FROM models WHERE digest = $digest);";
        command.Parameters.AddWithValue("$digest", digest.Hex);
        command.ExecuteNonQuery();
    }

    /// <summary>Sets the status of every blob name of a digest, or of one loose file's name.</summary>
    public void SetStatus(StoredModel model, StoredModelStatus status)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = model.LooseFileName is null
            ? "UPDATE models SET status = $status WHERE digest = $digest AND loose_file IS NULL;"
            : "UPDATE models SET status = $status WHERE name = $name;";
        command.Parameters.AddWithValue("$status", StatusText(status));
        command.Parameters.AddWithValue("$digest", model.Digest.Hex);
        command.Parameters.AddWithValue("$name", model.Name);
        command.ExecuteNonQuery();
    }

    internal SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var busy = connection.CreateCommand();
        busy.CommandText = $"PRAGMA busy_timeout = {StoreDefaults.BusyTimeoutMilliseconds};";
        busy.ExecuteNonQuery();
        return connection;
    }

    private static void AddSources(SqliteConnection connection, SqliteTransaction transaction, Sha256Digest digest, IReadOnlyList<string> urls)
    {
        foreach (var url in urls)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT OR IGNORE INTO sources(digest, url, position)
                VALUES($digest, $url, (SELECT coalesce(max(position), -1) + 1 FROM sources WHERE digest = $digest));
                """;
            command.Parameters.AddWithValue("$digest", digest.Hex);
            command.Parameters.AddWithValue("$url", url);
            command.ExecuteNonQuery();
        }
    }

    private static Dictionary<string, IReadOnlyList<string>> ReadSources(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT digest, url FROM sources ORDER BY digest, position;";
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var digest = reader.GetString(0);
            if (!result.TryGetValue(digest, out var list))
            {
                result[digest] = list = [];
            }

            list.Add(reader.GetString(1));
        }

        return result.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value, StringComparer.Ordinal);
    }

    private StoredModel? ToModel(SqliteDataReader r)
    {
        var name = r.GetString(0);
        if (!Sha256Digest.TryParse(r.GetString(1), out var digest) || !ModelName.IsValid(name))
        {
            return null; // a hand-edited row: never turned into a path
        }

        var loose = r.IsDBNull(3) ? null : r.GetString(3);
        string path;
        if (loose is null)
        {
            path = _layout.BlobPath(digest);
        }
        else if (_layout.LoosePath(loose) is { } loosePath)
        {
            path = loosePath;
        }
        else
        {
            return null;
        }

        Sha256Digest? sourceDigest = !r.IsDBNull(7) && Sha256Digest.TryParse(r.GetString(7), out var s) ? s : null;
        var quantType = r.IsDBNull(8) ? null : r.GetString(8);
        return new StoredModel
        {
            Name = name,
            Digest = digest,
            SizeBytes = r.GetInt64(2),
            Path = path,
            LooseFileName = loose,
            LooseStamp = loose is null ? default : new FileStamp(r.GetInt64(2), r.IsDBNull(4) ? 0 : r.GetInt64(4), r.IsDBNull(5) ? 0 : unchecked((ulong)r.GetInt64(5))),
            Status = r.GetString(6) == "quarantined" ? StoredModelStatus.Quarantined : StoredModelStatus.Ok,
            Lineage = sourceDigest is null && quantType is null ? null : new ModelLineage(sourceDigest, quantType),
            Metadata = new ModelMetadata
            {
                Architecture = r.IsDBNull(9) ? null : r.GetString(9),
                ParameterCount = r.GetInt64(10),
                Quantization = r.IsDBNull(11) ? null : r.GetString(11),
                ContextLength = r.IsDBNull(12) ? null : r.GetInt64(12),
                License = r.IsDBNull(13) ? null : r.GetString(13),
                HasChatTemplate = r.GetInt64(14) != 0,
            },
            AddedUtc = DateTimeOffset.TryParse(r.GetString(15), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var added) ? added : default,
        };
    }

    private static string StatusText(StoredModelStatus status) => status == StoredModelStatus.Quarantined ? "quarantined" : "ok";
}

/// <summary>The models folder's manifest cannot be used; the message is one line for the console and names the file.</summary>
public sealed class ModelStoreOpenException(string message, Exception? innerException = null) : Exception(message, innerException);
