using Microsoft.Data.Sqlite;

namespace InferenceMesh.ContextStore.Rag;

/// <summary>
/// The place in a list that an <c>after</c> cursor names: the entry's sort key, read from the live table or, for an
/// entry deleted meanwhile, from its <c>_gone</c> table (RagMigrations, version 2), so paging goes on where it was.
/// </summary>
internal static class ListCursor
{
    /// <summary>The key (two integers) that <paramref name="sql"/> reads for the cursor <c>$id</c>; null when there is no cursor or no such entry.</summary>
    public static (long Key, long Row)? Find(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        if (parameters[0].Value is null)
        {
            return null;
        }

        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : null;
    }

    /// <summary>Binds <c>$after</c> and <c>$afterRow</c> (null without a cursor).</summary>
    public static void Bind(SqliteCommand command, (long Key, long Row)? cursor)
    {
        command.Parameters.AddWithValue("$after", cursor is { } c ? c.Key : (object)DBNull.Value);
        command.Parameters.AddWithValue("$afterRow", cursor is { } r ? r.Row : (object)DBNull.Value);
    }
}
