using System.Net.Sockets;
using InferenceMesh.ContextStore.Rag.Index;
using Npgsql;

namespace InferenceMesh.Tests;

/// <summary>
/// The real PostgreSQL server with pgvector that the pgvector index tests use: the one <c>tools/setup-test-postgres.sh</c>
/// creates (and <c>.ci/run</c> runs), or <c>INFERENCE_MESH_TEST_POSTGRES</c>. Each test gets its own schema and drops it.
/// An unreachable server fails the test with one line saying how to start it; it never skips.
/// </summary>
internal static class TestPostgres
{
    public const string Variable = "INFERENCE_MESH_TEST_POSTGRES";

    /// <summary>What tools/setup-test-postgres.sh creates: role, password and database inference_mesh_test on 127.0.0.1:5432.</summary>
    public const string DefaultConnectionString =
        "Host=127.0.0.1;Port=5432;Database=inference_mesh_test;Username=inference_mesh_test;Password=inference_mesh_test;Timeout=5";

    public static string ConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : DefaultConnectionString;

    private static readonly Lazy<string?> Unreachable = new(Probe);

    /// <summary>A fresh schema name (t_ + 32 hex digits) on a reachable server; fails the test when the server is not there.</summary>
    public static string NewSchema()
    {
        if (Unreachable.Value is { } reason)
        {
            Assert.Fail(reason);
        }

        return "t_" + Guid.NewGuid().ToString("N");
    }

    /// <summary>Index options for <paramref name="schema"/> on the test server.</summary>
    public static PgVectorRagIndexOptions Options(string schema) => new() { ConnectionString = ConnectionString, Schema = schema };

    /// <summary>Drops the schema and everything in it (a test's clean-up).</summary>
    public static void DropSchema(string schema)
    {
        using var dataSource = NpgsqlDataSource.Create(ConnectionString);
        using var command = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE;");
        command.ExecuteNonQuery();
    }

    /// <summary>Runs one scalar query in <paramref name="schema"/>.</summary>
    public static T? Scalar<T>(string schema, string sql, params (string Name, object Value)[] parameters)
    {
        using var dataSource = new NpgsqlDataSourceBuilder(ConnectionString) { ConnectionStringBuilder = { SearchPath = schema + ", public" } }.Build();
        using var command = dataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var result = command.ExecuteScalar();
        return result is null or DBNull ? default : (T)Convert.ChangeType(result, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string? Probe()
    {
        try
        {
            using var dataSource = NpgsqlDataSource.Create(ConnectionString);
            using var command = dataSource.CreateCommand("SELECT extversion FROM pg_extension WHERE extname = 'vector';");
            return command.ExecuteScalar() is string
                ? null
                : "The test PostgreSQL database has no pgvector extension: run `sudo tools/setup-test-postgres.sh` (what .ci/run does).";
        }
        catch (Exception ex) when (ex is NpgsqlException or SocketException or TimeoutException)
        {
            var where = new NpgsqlConnectionStringBuilder(ConnectionString);
            return $"The test PostgreSQL server {where.Host}:{where.Port} (database {where.Database}) is not reachable ({ex.Message.ReplaceLineEndings(" ")}): " +
                $"run `sudo tools/setup-test-postgres.sh` (what .ci/run does), or point {Variable} at a server with pgvector.";
        }
    }
}
