using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ContextStore.Responses;

/// <summary><see cref="IResponseStore"/> on the context database (table <c>responses</c>).</summary>
internal sealed class ResponseStore(ContextDatabase database) : IResponseStore
{
    private const string Columns = "id, previous_id, created_at, privacy, messages, response";

    public void Save(StoredResponse response) => database.Write((connection, transaction) => connection.Execute(transaction,
        $"INSERT INTO responses({Columns}) VALUES($id, $previous, $created, $privacy, $messages, $response);",
        ("$id", response.Id), ("$previous", response.PreviousId), ("$created", response.CreatedAt.ToUnixTimeMilliseconds()),
        ("$privacy", response.Privacy), ("$messages", response.Messages), ("$response", response.Response)));

    public StoredResponse? Get(string id) => database.Read(connection =>
        connection.Query(null, $"SELECT {Columns} FROM responses WHERE id = $id;", Read, ("$id", id)).FirstOrDefault());

    public bool Delete(string id) =>
        database.Write((connection, transaction) => connection.Execute(transaction, "DELETE FROM responses WHERE id = $id;", ("$id", id)) > 0);

    public IReadOnlyList<StoredResponse>? Chain(string id) => database.Read(connection =>
    {
        // Depth-first back along previous_id; a cycle cannot form (a response can only follow one stored before it).
        var chain = connection.Query(null, $"""
            WITH RECURSIVE chain(id, depth) AS (
                SELECT id, 0 FROM responses WHERE id = $id
                UNION ALL
                SELECT r.previous_id, c.depth + 1 FROM chain c JOIN responses r ON r.id = c.id WHERE r.previous_id IS NOT NULL)
            SELECT {string.Join(", ", Columns.Split(", ").Select(c => "r." + c))} FROM chain c JOIN responses r ON r.id = c.id ORDER BY c.depth DESC;
            """, Read, ("$id", id));
        return chain.Count == 0 ? null : chain;
    });

    private static StoredResponse Read(SqliteDataReader r) => new(
        r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), r.GetInt32(3), r.GetString(4), r.GetString(5));
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
    ];
}
