using System.Text.RegularExpressions;
using Npgsql;

namespace InferenceMesh.ContextStore.Rag.Index;

/// <summary>Where and how <see cref="PgVectorRagIndex"/> keeps chunks and vectors. Every default lives in <see cref="PgVectorDefaults"/>.</summary>
public sealed partial record PgVectorRagIndexOptions
{
    /// <summary>
    /// An Npgsql connection string (<c>Host=…;Port=…;Database=…;Username=…;Password=…</c>). The gateway reads it from
    /// the environment variable <see cref="PgVectorDefaults.ConnectionStringVariable"/>, so that no password appears on
    /// a command line. Required.
    /// </summary>
    public required string ConnectionString { get; init; }

    /// <summary>
    /// The PostgreSQL schema holding the index's tables (created when missing): lower-case letters, digits and '_',
    /// at most 63 characters, starting with a letter or '_'. The default value is "inference_mesh".
    /// </summary>
    public string Schema { get; init; } = PgVectorDefaults.Schema;

    /// <summary>
    /// HNSW search breadth (<c>hnsw.ef_search</c>, 1-1000): higher finds more of the exact nearest neighbours and costs
    /// more; a search for k results always uses at least k. The default value is 400 (pgvector's own is 40): on the
    /// benchmark's 100k random 64-dimension vectors, the worst case for HNSW, recall@10 is 0.41 at 40, 0.65 at 100,
    /// 0.82 at 200, 0.94 at 400 and 0.999 at 1000.
    /// </summary>
    public int EfSearch { get; init; } = PgVectorDefaults.EfSearch;

    /// <summary>HNSW graph degree (<c>m</c>, 2-100) of new stores' indexes. The default value is 16 (pgvector's).</summary>
    public int HnswM { get; init; } = PgVectorDefaults.HnswM;

    /// <summary>HNSW build breadth (<c>ef_construction</c>, 4-1000, at least 2 × m) of new stores' indexes. The default value is 64 (pgvector's).</summary>
    public int HnswEfConstruction { get; init; } = PgVectorDefaults.HnswEfConstruction;

    /// <summary>How long after a failed connection or set-up the index waits before trying again. The default value is 5 s.</summary>
    public TimeSpan RetryInterval { get; init; } = PgVectorDefaults.RetryInterval;

    /// <summary>Returns null when valid, else a one-line message (never the password).</summary>
    public string? Validate()
    {
        if (ConnectionStringError(ConnectionString) is { } error)
        {
            return error;
        }

        if (!SchemaName().IsMatch(Schema ?? ""))
        {
            return $"The PostgreSQL schema name must be lower-case letters, digits and '_', starting with a letter or '_', at most 63 characters (got '{RagError.Printable(Schema ?? "")}').";
        }

        if (EfSearch is < 1 or > 1000)
        {
            return $"hnsw.ef_search must be from 1 to 1000 (got {EfSearch}).";
        }

        if (HnswM is < 2 or > 100)
        {
            return $"The HNSW m must be from 2 to 100 (got {HnswM}).";
        }

        if (HnswEfConstruction < 2 * HnswM || HnswEfConstruction > 1000)
        {
            return $"The HNSW ef_construction must be from 2 × m ({2 * HnswM}) to 1000 (got {HnswEfConstruction}).";
        }

        return RetryInterval <= TimeSpan.Zero ? "The retry interval must be positive." : null;
    }

    /// <summary>Why <paramref name="connectionString"/> is not a usable Npgsql connection string, in one line; null when it is.</summary>
    public static string? ConnectionStringError(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return $"The PostgreSQL connection string is empty (set {PgVectorDefaults.ConnectionStringVariable}, e.g. \"Host=127.0.0.1;Database=…;Username=…;Password=…\").";
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            return string.IsNullOrWhiteSpace(builder.Host)
                ? "The PostgreSQL connection string names no Host (e.g. \"Host=127.0.0.1;Database=…;Username=…\")."
                : null;
        }
        catch (ArgumentException ex)
        {
            // Npgsql's message names the bad keyword, not its value: no password leaks into the error.
            return "The PostgreSQL connection string is invalid: " + ex.Message.ReplaceLineEndings(" ").Trim();
        }
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex SchemaName();
}

/// <summary>Defaults of the PostgreSQL + pgvector index, in one place.</summary>
public static class PgVectorDefaults
{
    /// <summary>The environment variable the gateway and the CLI read the connection string from.</summary>
    public const string ConnectionStringVariable = "INFERENCE_MESH_RAG_POSTGRES";

    public const string Schema = "inference_mesh";
    public const int EfSearch = 400;
    public const int HnswM = 16;
    public const int HnswEfConstruction = 64;
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);

    /// <summary>The full-text configuration: lower-cased words, no stemming, no stop words (like FTS5's unicode61).</summary>
    public const string TextSearchConfig = "simple";
}
