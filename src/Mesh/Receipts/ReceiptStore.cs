using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.Mesh.Receipts;

/// <summary>A verified receipt as stored by the requester.</summary>
public sealed record StoredReceipt
{
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("received_ms")] public long ReceivedMs { get; init; }
    [JsonPropertyName("receipt")] public required UsageReceipt Receipt { get; init; }
}

/// <summary>
/// The requester's receipts: SQLite (WAL) at <c>{mesh data}/receipts.db</c>, one row per verified receipt with the
/// wire form kept as received (so the signature can be checked again later). Thread-safe (a connection per call).
/// </summary>
public sealed class ReceiptStore
{
    public const string FileName = "receipts.db";

    private readonly string _connectionString;
    private int _created;

    public ReceiptStore(string dataDirectory)
    {
        Path = System.IO.Path.Combine(dataDirectory, FileName);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path, Pooling = true }.ToString();
    }

    public string Path { get; }

    public void Add(UsageReceipt receipt, DateTimeOffset received)
    {
        using var connection = Open(create: true);
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO receipts (received_ms, server, client, request_sha256, model, model_sha256, prompt_tokens, completion_tokens, time_ms, wire)
            VALUES ($received, $server, $client, $request, $model, $digest, $prompt, $completion, $time, $wire)
            """;
        command.Parameters.AddWithValue("$received", received.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$server", receipt.Server);
        command.Parameters.AddWithValue("$client", receipt.Client);
        command.Parameters.AddWithValue("$request", receipt.RequestSha256);
        command.Parameters.AddWithValue("$model", receipt.Model);
        command.Parameters.AddWithValue("$digest", receipt.ModelSha256);
        command.Parameters.AddWithValue("$prompt", receipt.PromptTokens);
        command.Parameters.AddWithValue("$completion", receipt.CompletionTokens);
        command.Parameters.AddWithValue("$time", receipt.TimeMs);
        command.Parameters.AddWithValue("$wire", receipt.ToWire());
        command.ExecuteNonQuery();
    }

    /// <summary>Every stored receipt, oldest first; empty when the database does not exist yet.</summary>
    public IReadOnlyList<StoredReceipt> List()
    {
        if (!File.Exists(Path))
        {
            return [];
        }

        using var connection = Open(create: false);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, received_ms, wire FROM receipts ORDER BY id";
        using var reader = command.ExecuteReader();
        var list = new List<StoredReceipt>();
        while (reader.Read())
        {
            if (UsageReceipt.FromWire(reader.GetString(2)) is { } receipt)
            {
                list.Add(new StoredReceipt { Id = reader.GetInt64(0), ReceivedMs = reader.GetInt64(1), Receipt = receipt });
            }
        }

        return list;
    }

    public static string ToJson(IReadOnlyList<StoredReceipt> receipts) =>
        JsonSerializer.Serialize([.. receipts], ReceiptJsonContext.Default.ListStoredReceipt);

    private SqliteConnection Open(bool create)
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            // WAL with synchronous NORMAL: a commit survives a crash of the gateway, not necessarily a power cut; no fsync per request.
            pragma.CommandText = "PRAGMA synchronous=NORMAL;";
            pragma.ExecuteNonQuery();
        }

        if (create && Interlocked.Exchange(ref _created, 1) == 0)
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                PRAGMA journal_mode=WAL;
                CREATE TABLE IF NOT EXISTS receipts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    received_ms INTEGER NOT NULL,
                    server TEXT NOT NULL,
                    client TEXT NOT NULL,
                    request_sha256 TEXT NOT NULL,
                    model TEXT NOT NULL,
                    model_sha256 TEXT NOT NULL,
                    prompt_tokens INTEGER NOT NULL,
                    completion_tokens INTEGER NOT NULL,
                    time_ms INTEGER NOT NULL,
                    wire TEXT NOT NULL);
                """;
            command.ExecuteNonQuery();
        }

        return connection;
    }
}
