using System.Globalization;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ContextStore.Storage;

/// <summary>
/// The context store's SQLite database: WAL (readers never block the writer), <c>synchronous=FULL</c> (an
/// acknowledged write survives a crash or power loss), <c>busy_timeout</c> on every connection, and every write
/// in <c>BEGIN IMMEDIATE</c> so that writers queue on the lock instead of failing with "database is locked" when
/// a read transaction tries to upgrade. Migrations are versioned per module and run when the database opens.
/// Disposing releases this database's pooled connections (and only those: never <c>SqliteConnection.ClearAllPools</c>,
/// whose clearing races with connections other databases of the same process are using at that moment).
/// </summary>
public sealed class ContextDatabase : IDisposable
{
    public const string FileName = "context.db";

    private readonly string _connectionString;
    private readonly int _busyTimeoutMilliseconds;
    private readonly Dictionary<string, string> _extensionErrors = new(StringComparer.Ordinal);
    private string[] _extensions = [];

    private ContextDatabase(ContextStoreOptions options)
    {
        Options = options;
        _busyTimeoutMilliseconds = (int)Math.Clamp(options.BusyTimeout.TotalMilliseconds, 1, int.MaxValue);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = options.DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = Math.Max(1, _busyTimeoutMilliseconds / 1000),
        }.ToString();
    }

    public ContextStoreOptions Options { get; }

    /// <summary>
    /// Opens (creating the folder and file when missing) and applies every migration of <paramref name="migrations"/>
    /// not yet applied, in module and version order, each in its own transaction. A database written by a newer build
    /// (a module version above the newest known) is refused with a clear message instead of being touched.
    /// </summary>
    public static ContextDatabase Open(ContextStoreOptions options, IEnumerable<ContextMigration> migrations)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(migrations);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory);
        Directory.CreateDirectory(options.DataDirectory);
        var database = new ContextDatabase(options);
        database.ProbeExtensions();
        database.Migrate(ValidateMigrations(migrations));
        return database;
    }

    /// <summary>
    /// Why the extension at <paramref name="path"/> (one of <see cref="ContextStoreOptions.Extensions"/>) could not be
    /// loaded, or null when it loads on every connection.
    /// </summary>
    public string? ExtensionError(string path) =>
        _extensionErrors.TryGetValue(path, out var error) ? error
        : Options.Extensions.Contains(path, StringComparer.Ordinal) ? null
        : $"The SQLite extension '{path}' is not configured for the context store.";

    /// <summary>A new open connection with busy_timeout, foreign keys on and the configured extensions loaded; the caller disposes it.</summary>
    public SqliteConnection OpenConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        if (_extensions.Length > 0)
        {
            LoadExtensions(connection, _extensions);
        }

        using var pragma = connection.CreateCommand();
        pragma.CommandText = string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {_busyTimeoutMilliseconds}; PRAGMA foreign_keys = ON;");
        pragma.ExecuteNonQuery();
        return connection;
    }

    /// <summary>
    /// Closes the pooled connections of this database file (the host calls it at shutdown, after every user of the
    /// database has stopped). A later call to <see cref="OpenConnection"/> opens a fresh connection.
    /// </summary>
    public void Dispose()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    /// <summary>Runs <paramref name="write"/> in a <c>BEGIN IMMEDIATE</c> transaction and commits it; rolls back on any exception.</summary>
    public T Write<T>(Func<SqliteConnection, SqliteTransaction, T> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var connection = OpenConnection();
        using var transaction = BeginImmediate(connection);
        var result = write(connection, transaction);
        transaction.Commit();
        return result;
    }

    /// <summary>Runs <paramref name="read"/> on its own connection (WAL: sees the last committed state, never blocks writers).</summary>
    public T Read<T>(Func<SqliteConnection, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        using var connection = OpenConnection();
        return read(connection);
    }

    /// <summary>The last applied version of <paramref name="module"/>, 0 when none.</summary>
    public int SchemaVersion(string module) => Read(connection => CurrentVersion(connection, null, module));

    /// <summary><c>PRAGMA integrity_check</c>: "ok" when the file is sound.</summary>
    public string IntegrityCheck() => Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check;";
        return Convert.ToString(command.ExecuteScalar(), CultureInfo.InvariantCulture) ?? "";
    });

    /// <summary>Loads each configured extension once on a fresh connection; those that fail are left out with their reason.</summary>
    private void ProbeExtensions()
    {
        var loaded = new List<string>();
        foreach (var path in Options.Extensions.Distinct(StringComparer.Ordinal))
        {
            if (!File.Exists(path))
            {
                _extensionErrors[path] = $"The SQLite extension '{path}' does not exist (it is placed beside the program by the build).";
                continue;
            }

            try
            {
                using var probe = new SqliteConnection(new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString());
                probe.Open();
                LoadExtensions(probe, [path]);
                loaded.Add(path);
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException or DllNotFoundException or EntryPointNotFoundException)
            {
                _extensionErrors[path] = $"The SQLite extension '{path}' could not be loaded: {OneLine(ex.Message)}";
            }
        }

        _extensions = [.. loaded];
    }

    private static void LoadExtensions(SqliteConnection connection, string[] paths)
    {
        // Loading is switched on only for the calls themselves: SQL never gets load_extension().
        connection.EnableExtensions(true);
        try
        {
            foreach (var path in paths)
            {
                connection.LoadExtension(path);
            }
        }
        finally
        {
            connection.EnableExtensions(false);
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    private static SqliteTransaction BeginImmediate(SqliteConnection connection) =>
        // deferred: false makes Microsoft.Data.Sqlite issue BEGIN IMMEDIATE: the write lock is taken up front.
        connection.BeginTransaction(deferred: false);

    private void Migrate(IReadOnlyList<ContextMigration> migrations)
    {
        using var connection = OpenConnection();
        using (var setup = connection.CreateCommand())
        {
            setup.CommandText = """
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = FULL;
                CREATE TABLE IF NOT EXISTS schema_migrations(
                    module TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    applied_utc TEXT NOT NULL,
                    PRIMARY KEY(module, version)) STRICT;
                """;
            setup.ExecuteNonQuery();
        }

        foreach (var module in migrations.GroupBy(m => m.Module, StringComparer.Ordinal))
        {
            var newest = module.Max(m => m.Version);
            foreach (var migration in module.OrderBy(m => m.Version))
            {
                using var transaction = BeginImmediate(connection);
                var current = CurrentVersion(connection, transaction, module.Key);
                if (current > newest)
                {
                    throw new InvalidOperationException(
                        $"The context database '{Options.DatabasePath}' has {module.Key} schema version {current}; this build knows {newest}.");
                }

                if (migration.Version <= current)
                {
                    continue;
                }

                using (var command = connection.CreateCommand())
                {
                    command.Transaction = transaction;
                    command.CommandText = migration.Sql;
                    command.ExecuteNonQuery();
                }

                using (var record = connection.CreateCommand())
                {
                    record.Transaction = transaction;
                    record.CommandText = "INSERT INTO schema_migrations(module, version, applied_utc) VALUES($module, $version, $utc);";
                    record.Parameters.AddWithValue("$module", migration.Module);
                    record.Parameters.AddWithValue("$version", migration.Version);
                    record.Parameters.AddWithValue("$utc", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
                    record.ExecuteNonQuery();
                }

                transaction.Commit();
            }
        }
    }

    private static int CurrentVersion(SqliteConnection connection, SqliteTransaction? transaction, string module)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT coalesce(max(version), 0) FROM schema_migrations WHERE module = $module;";
        command.Parameters.AddWithValue("$module", module);
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static IReadOnlyList<ContextMigration> ValidateMigrations(IEnumerable<ContextMigration> migrations)
    {
        var list = migrations.ToList();
        foreach (var module in list.GroupBy(m => m.Module, StringComparer.Ordinal))
        {
            var versions = module.Select(m => m.Version).Order().ToList();
            for (var i = 0; i < versions.Count; i++)
            {
                if (versions[i] != i + 1)
                {
                    throw new ArgumentException($"Migrations of module '{module.Key}' must be numbered 1, 2, 3, … without gaps or repeats.", nameof(migrations));
                }
            }
        }

        return list;
    }
}
