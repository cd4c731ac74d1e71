using System.Security.Cryptography;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ContextStore.Conversations;

/// <summary>
/// <see cref="IConversationStore"/> on the context database (tables <c>conversations</c> and
/// <c>conversations_items</c>). Times are stored in Unix milliseconds from the injected <see cref="TimeProvider"/>;
/// items keep their insertion order (an autoincrement sequence), which is also the paging cursor's order.
/// </summary>
internal sealed class ConversationStore(ContextDatabase database, ConversationStoreOptions options, TimeProvider time) : IConversationStore
{
    private const string ConversationColumns = "seq, id, created_at, updated_at, metadata, privacy";
    private const string ItemColumns = "i.id, c.id, i.role, i.content, i.created_at, i.backend, i.privacy, i.type, i.call_id, i.name";

    public Conversation Create(IReadOnlyDictionary<string, string> metadata, IReadOnlyList<NewConversationItem> items, int privacy)
    {
        var id = NewId(ConversationDefaults.ConversationIdPrefix);
        var now = Now();
        return database.Write((connection, transaction) =>
        {
            var seq = (long)connection.Scalar(transaction,
                "INSERT INTO conversations(id, created_at, updated_at, metadata, privacy) VALUES($id, $now, $now, $metadata, $privacy) RETURNING seq;",
                ("$id", id), ("$now", now), ("$metadata", MetadataJson.Write(metadata)), ("$privacy", privacy))!;
            Insert(connection, transaction, seq, id, items, privacy, now);
            return new Conversation(id, FromMs(now), FromMs(now), metadata, privacy);
        });
    }

    public Conversation? Get(string id) => database.Read(connection => Find(connection, null, id)?.Conversation);

    public Page<Conversation> List(PageRequest page) => database.Read(connection =>
    {
        long? after = null;
        if (page.After is { } cursor)
        {
            after = connection.Scalar(null,
                "SELECT seq FROM conversations WHERE id = $id UNION ALL SELECT seq FROM conversations_gone WHERE id = $id LIMIT 1;", ("$id", cursor)) as long?;
            if (after is null) return Page<Conversation>.Failed(PageStatus.UnknownCursor);
        }

        var rows = connection.Query(null,
            $"SELECT {ConversationColumns} FROM conversations WHERE {After(page.Order, "seq")} ORDER BY seq {Direction(page.Order)} LIMIT $limit;",
            r => ReadConversation(r).Conversation, ("$after", after), ("$limit", page.Limit + 1));
        return ToPage(rows, page.Limit);
    });

    public Conversation? UpdateMetadata(string id, IReadOnlyDictionary<string, string> metadata)
    {
        var now = Now();
        return database.Write((connection, transaction) =>
        {
            var changed = connection.Execute(transaction, "UPDATE conversations SET metadata = $metadata, updated_at = $now WHERE id = $id;",
                ("$metadata", MetadataJson.Write(metadata)), ("$now", now), ("$id", id));
            return changed == 0 ? null : Find(connection, transaction, id)?.Conversation;
        });
    }

    public bool Delete(string id) =>
        database.Write((connection, transaction) => connection.Execute(transaction, "DELETE FROM conversations WHERE id = $id;", ("$id", id)) > 0);

    public IReadOnlyList<ConversationItem>? AddItems(string conversationId, IReadOnlyList<NewConversationItem> items, int privacy)
    {
        var now = Now();
        return database.Write((connection, transaction) =>
        {
            var seq = connection.Scalar(transaction,
                "UPDATE conversations SET privacy = max(privacy, $privacy), updated_at = $now WHERE id = $id RETURNING seq;",
                ("$privacy", privacy), ("$now", now), ("$id", conversationId));
            return seq is long conversation ? Insert(connection, transaction, conversation, conversationId, items, privacy, now) : null;
        });
    }

    public Page<ConversationItem> ListItems(string conversationId, PageRequest page) => database.Read(connection =>
    {
        if (Find(connection, null, conversationId) is not { } conversation) return Page<ConversationItem>.Failed(PageStatus.NotFound);
        long? after = null;
        if (page.After is { } cursor)
        {
            after = connection.Scalar(null,
                "SELECT seq FROM conversations_items WHERE id = $id AND conversation_seq = $c " +
                "UNION ALL SELECT seq FROM conversations_items_gone WHERE id = $id AND conversation_seq = $c LIMIT 1;",
                ("$id", cursor), ("$c", conversation.Seq)) as long?;
            if (after is null) return Page<ConversationItem>.Failed(PageStatus.UnknownCursor);
        }

        var rows = connection.Query(null,
            $"SELECT {ItemColumns} FROM conversations_items i JOIN conversations c ON c.seq = i.conversation_seq " +
            $"WHERE i.conversation_seq = $c AND {After(page.Order, "i.seq")} ORDER BY i.seq {Direction(page.Order)} LIMIT $limit;",
            ReadItem, ("$c", conversation.Seq), ("$after", after), ("$limit", page.Limit + 1));
        return ToPage(rows, page.Limit);
    });

    public ConversationHistory? History(string conversationId) => database.Read(connection =>
    {
        // One read transaction: the level and the items are of the same moment.
        using var transaction = connection.BeginTransaction(deferred: true);
        if (Find(connection, transaction, conversationId) is not { } found) return null;
        var items = connection.Query(transaction,
            $"SELECT {ItemColumns} FROM conversations_items i JOIN conversations c ON c.seq = i.conversation_seq WHERE i.conversation_seq = $c ORDER BY i.seq;",
            ReadItem, ("$c", found.Seq));
        return new ConversationHistory(found.Conversation, items);
    });

    public ConversationItem? GetItem(string conversationId, string itemId) => database.Read(connection =>
        connection.Query(null,
            $"SELECT {ItemColumns} FROM conversations_items i JOIN conversations c ON c.seq = i.conversation_seq WHERE c.id = $c AND i.id = $id;",
            ReadItem, ("$c", conversationId), ("$id", itemId)).FirstOrDefault());

    public bool DeleteItem(string conversationId, string itemId) => database.Write((connection, transaction) =>
        connection.Execute(transaction,
            "DELETE FROM conversations_items WHERE id = $id AND conversation_seq = (SELECT seq FROM conversations WHERE id = $c);",
            ("$id", itemId), ("$c", conversationId)) > 0);

    public PurgeResult PurgeExpired()
    {
        if (options.Retention is not { } retention)
        {
            return default;
        }

        var cutoff = (time.GetUtcNow() - retention).ToUnixTimeMilliseconds();
        return database.Write((connection, transaction) =>
        {
            var items = connection.Execute(transaction,
                "DELETE FROM conversations_items WHERE created_at < $cutoff OR conversation_seq IN (SELECT seq FROM conversations WHERE updated_at < $cutoff);",
                ("$cutoff", cutoff));
            var conversations = connection.Execute(transaction, "DELETE FROM conversations WHERE updated_at < $cutoff;", ("$cutoff", cutoff));
            return new PurgeResult(items, conversations);
        });
    }

    private List<ConversationItem> Insert(
        SqliteConnection connection, SqliteTransaction transaction, long conversationSeq, string conversationId,
        IReadOnlyList<NewConversationItem> items, int privacy, long now)
    {
        var added = new List<ConversationItem>(items.Count);
        if (items.Count == 0)
        {
            return added;
        }

        using var insert = connection.Command(transaction,
            "INSERT INTO conversations_items(id, conversation_seq, role, content, created_at, backend, privacy, type, call_id, name) " +
            "VALUES($id, $c, $role, $content, $now, $backend, $privacy, $type, $call_id, $name);",
            ("$id", ""), ("$c", conversationSeq), ("$role", ""), ("$content", ""), ("$now", now), ("$backend", null), ("$privacy", privacy),
            ("$type", ""), ("$call_id", null), ("$name", null));
        foreach (var item in items)
        {
            var id = NewId(ConversationDefaults.ItemIdPrefix);
            insert.Parameters["$id"].Value = id;
            insert.Parameters["$role"].Value = item.Role;
            insert.Parameters["$content"].Value = item.Content;
            insert.Parameters["$backend"].Value = (object?)item.Backend ?? DBNull.Value;
            insert.Parameters["$type"].Value = item.Type;
            insert.Parameters["$call_id"].Value = (object?)item.CallId ?? DBNull.Value;
            insert.Parameters["$name"].Value = (object?)item.Name ?? DBNull.Value;
            insert.ExecuteNonQuery();
            added.Add(new ConversationItem(id, conversationId, item.Role, item.Content, FromMs(now), item.Backend, privacy, item.Type, item.CallId, item.Name));
        }

        return added;
    }

    private static (long Seq, Conversation Conversation)? Find(SqliteConnection connection, SqliteTransaction? transaction, string id) =>
        connection.Query(transaction, $"SELECT {ConversationColumns} FROM conversations WHERE id = $id;", ReadConversation, ("$id", id)) is [var found] ? found : null;

    private static (long Seq, Conversation Conversation) ReadConversation(SqliteDataReader r) =>
        (r.GetInt64(0), new Conversation(r.GetString(1), FromMs(r.GetInt64(2)), FromMs(r.GetInt64(3)), MetadataJson.Read(r.GetString(4)), r.GetInt32(5)));

    private static ConversationItem ReadItem(SqliteDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), FromMs(r.GetInt64(4)), r.IsDBNull(5) ? null : r.GetString(5), r.GetInt32(6),
            r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8), r.IsDBNull(9) ? null : r.GetString(9));

    /// <summary>The cursor condition on <paramref name="column"/>: true for every row when <c>$after</c> is null.</summary>
    private static string After(ListOrder order, string column) =>
        $"($after IS NULL OR {column} {(order == ListOrder.Ascending ? ">" : "<")} $after)";

    private static string Direction(ListOrder order) => order == ListOrder.Ascending ? "ASC" : "DESC";

    private static Page<T> ToPage<T>(List<T> rows, int limit)
    {
        var hasMore = rows.Count > limit;
        if (hasMore)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        return new Page<T>(PageStatus.Ok, rows, hasMore);
    }

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    internal static string NewId(string prefix) => prefix + RandomNumberGenerator.GetHexString(32, lowercase: true);
}
