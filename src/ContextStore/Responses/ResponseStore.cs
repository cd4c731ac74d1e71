using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ContextStore.Responses;

/// <summary>
/// <see cref="IResponseStore"/> on the context database (table <c>responses</c>). Expiry is a read filter (created after
/// now minus the retention, on the injected clock), so an expired response is never returned even before
/// <see cref="PurgeExpired"/> deletes it.
/// </summary>
internal sealed class ResponseStore(ContextDatabase database, ResponseStoreOptions options, TimeProvider time) : IResponseStore, IExpiringStore
{
    private const string Columns = "id, previous_id, created_at, privacy, messages, response, input_items";

    public string Module => ResponseStoreDefaults.Module;

    public void Save(StoredResponse response) => database.Write((connection, transaction) => connection.Execute(transaction,
        $"INSERT INTO responses({Columns}) VALUES($id, $previous, $created, $privacy, $messages, $response, $items);",
        ("$id", response.Id), ("$previous", response.PreviousId), ("$created", response.CreatedAt.ToUnixTimeMilliseconds()),
        ("$privacy", response.Privacy), ("$messages", response.Messages), ("$response", response.Response), ("$items", response.InputItems)));

    public StoredResponse? Get(string id) => database.Read(connection =>
        connection.Query(null, $"SELECT {Columns} FROM responses WHERE id = $id AND created_at >= $cutoff;", Read, ("$id", id), ("$cutoff", Cutoff()))
            .FirstOrDefault());

    public bool Delete(string id) => database.Write((connection, transaction) =>
        connection.Execute(transaction, "DELETE FROM responses WHERE id = $id AND created_at >= $cutoff;", ("$id", id), ("$cutoff", Cutoff())) > 0);

    public IReadOnlyList<StoredResponse>? Chain(string id) => database.Read(connection =>
    {
        // Depth-first back along previous_id; a cycle cannot form (a response can only follow one stored before it). An
        // expired response ends the chain as a deleted one does.
        var chain = connection.Query(null, $"""
            WITH RECURSIVE chain(id, depth) AS (
                SELECT id, 0 FROM responses WHERE id = $id AND created_at >= $cutoff
                UNION ALL
                SELECT r.previous_id, c.depth + 1 FROM chain c JOIN responses r ON r.id = c.id AND r.created_at >= $cutoff WHERE r.previous_id IS NOT NULL)
            SELECT {string.Join(", ", Columns.Split(", ").Select(c => "r." + c))} FROM chain c JOIN responses r ON r.id = c.id
            WHERE r.created_at >= $cutoff ORDER BY c.depth DESC;
            """, Read, ("$id", id), ("$cutoff", Cutoff()));
        return chain.Count == 0 ? null : chain;
    });

    public int PurgeExpired() => database.Write((connection, transaction) =>
        connection.Execute(transaction, "DELETE FROM responses WHERE created_at < $cutoff;", ("$cutoff", Cutoff())));

    private long Cutoff() => (time.GetUtcNow() - options.Retention).ToUnixTimeMilliseconds();

    private static StoredResponse Read(SqliteDataReader r) => new(
        r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), r.GetInt32(3), r.GetString(4), r.GetString(5),
        r.IsDBNull(6) ? null : r.GetString(6));
}

/// <summary>The response module's schema, version by version (never edit a shipped step: add one).</summary>
internal static class ResponseMigrations
{
    public static IReadOnlyList<ContextMigration> All { get; } =
    [
        new(ResponseStoreDefaults.Module, 1, """
            CREATE TABLE responses(
                id TEXT PRIMARY KEY,
                previous_id TEXT,
                created_at INTEGER NOT NULL,
                privacy INTEGER NOT NULL,
                messages TEXT NOT NULL,
                response TEXT NOT NULL) STRICT;
            CREATE INDEX responses_by_time ON responses(created_at);
            """),

        // The input as Responses items with ids (GET /v1/responses/{id}/input_items); null for responses stored before.
        new(ResponseStoreDefaults.Module, 2, "ALTER TABLE responses ADD COLUMN input_items TEXT;"),
    ];
}
