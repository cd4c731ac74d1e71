using System.Globalization;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ModelCache.Store;

/// <summary>The <c>adapters</c> table (schema version 2).</summary>
internal sealed partial class ModelManifest
{
    public IReadOnlyList<StoredAdapter> ListAdapters(string? name = null)
    {
        using var connection = Open();
        if (ReadVersion(connection) < 2)
        {
            return []; // an older manifest read by the catalog (which never migrates): no adapters yet
        }

        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT name, digest, size, base_name, base_digest, architecture, alpha, rank, tensor_pairs, default_scale, added_utc
            FROM adapters
            """ + (name is null ? "" : " WHERE name = $name") + " ORDER BY name;";
        if (name is not null)
        {
            command.Parameters.AddWithValue("$name", name);
        }

        var rows = new List<StoredAdapter>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (ToAdapter(reader) is { } adapter)
            {
                rows.Add(adapter);
            }
        }

        return rows;
    }

    public StoredAdapter? FindAdapter(string name) => ListAdapters(name) is [var adapter] ? adapter : null;

    public void UpsertAdapter(StoredAdapter adapter)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT OR REPLACE INTO adapters(name, digest, size, base_name, base_digest, architecture, alpha, rank, tensor_pairs, default_scale, added_utc)
            VALUES($name, $digest, $size, $baseName, $baseDigest, $arch, $alpha, $rank, $pairs, $scale, $added);
            """;
        var p = command.Parameters;
        p.AddWithValue("$name", adapter.Name);
        p.AddWithValue("$digest", adapter.Digest.Hex);
        p.AddWithValue("$size", adapter.SizeBytes);
        p.AddWithValue("$baseName", adapter.BaseName);
        p.AddWithValue("$baseDigest", adapter.BaseDigest.Hex);
        p.AddWithValue("$arch", adapter.Architecture);
        p.AddWithValue("$alpha", adapter.Alpha is { } alpha ? (double)alpha : DBNull.Value);
        p.AddWithValue("$rank", adapter.Rank);
        p.AddWithValue("$pairs", adapter.TensorPairs);
        p.AddWithValue("$scale", (double)adapter.DefaultScale);
        p.AddWithValue("$added", adapter.AddedUtc.ToString("O", CultureInfo.InvariantCulture));
        command.ExecuteNonQuery();
    }

    public bool RemoveAdapter(string name)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM adapters WHERE name = $name;";
        command.Parameters.AddWithValue("$name", name);
        return command.ExecuteNonQuery() > 0;
    }

    private StoredAdapter? ToAdapter(SqliteDataReader r)
    {
        var name = r.GetString(0);
        if (!Sha256Digest.TryParse(r.GetString(1), out var digest) || !Sha256Digest.TryParse(r.GetString(4), out var baseDigest)
            || !AdapterName.IsValid(name) || !ModelName.IsValid(r.GetString(3)))
        {
            return null; // a hand-edited row: never turned into a path
        }

        return new StoredAdapter
        {
            Name = name,
            Digest = digest,
            SizeBytes = r.GetInt64(2),
            Path = _layout.BlobPath(digest),
            BaseName = r.GetString(3),
            BaseDigest = baseDigest,
            Architecture = r.GetString(5),
            Alpha = r.IsDBNull(6) ? null : (float)r.GetDouble(6),
            Rank = (int)r.GetInt64(7),
            TensorPairs = (int)r.GetInt64(8),
            DefaultScale = (float)r.GetDouble(9),
            AddedUtc = DateTimeOffset.TryParse(r.GetString(10), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var added) ? added : default,
        };
    }
}
