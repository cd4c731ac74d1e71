using InferenceMesh.ContextStore.Rag.Index;

namespace InferenceMesh.Gateway.Rag;

/// <summary>
/// Which index holds chunks and vectors (<c>--rag-index sqlite|postgres</c>), shared by the gateway and the files CLI.
/// For PostgreSQL the connection string comes from an environment variable (<c>--rag-postgres-env</c>, default
/// <see cref="PgVectorDefaults.ConnectionStringVariable"/>), so no password is ever on a command line.
/// </summary>
internal static class RagIndexSelection
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary>The PostgreSQL index options for <paramref name="kind"/>, null for sqlite; or a one-line error naming the flag.</summary>
    public static (PgVectorRagIndexOptions? Options, string? Error) Resolve(string kind, string variable, string schema)
    {
        switch (kind)
        {
            case Sqlite:
                return (null, null);
            case Postgres:
                break;
            default:
                return (null, $"--rag-index must be {Sqlite} or {Postgres} (got '{ContextStore.Rag.RagError.Printable(kind)}').");
        }

        if (string.IsNullOrWhiteSpace(variable))
        {
            return (null, "--rag-postgres-env must name an environment variable.");
        }

        var connectionString = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return (null, $"--rag-index postgres: the environment variable {variable} is not set; put the connection string in it, e.g. {variable}=\"Host=127.0.0.1;Database=…;Username=…;Password=…\".");
        }

        var options = new PgVectorRagIndexOptions { ConnectionString = connectionString, Schema = schema };
        return options.Validate() is { } error ? (null, $"--rag-index postgres ({variable}): {error}") : (options, null);
    }
}
