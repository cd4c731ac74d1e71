using InferenceMesh.ContextStore.Storage;

namespace InferenceMesh.ContextStore.Conversations;

/// <summary>The conversation module's schema, version by version (never edit a shipped step: add one).</summary>
internal static class ConversationMigrations
{
    public static IReadOnlyList<ContextMigration> All { get; } =
    [
        new(ConversationDefaults.Module, 1, """
            CREATE TABLE conversations(
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                metadata TEXT NOT NULL,
                privacy INTEGER NOT NULL) STRICT;
            CREATE INDEX conversations_by_updated ON conversations(updated_at);
            CREATE TABLE conversations_items(
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                conversation_seq INTEGER NOT NULL REFERENCES conversations(seq) ON DELETE CASCADE,
                role TEXT NOT NULL,
                content TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                backend TEXT,
                privacy INTEGER NOT NULL) STRICT;
            CREATE INDEX conversations_items_by_conversation ON conversations_items(conversation_seq, seq);
            CREATE INDEX conversations_items_by_time ON conversations_items(created_at);
            """),

        // Where deleted entries were, so that a client paging with one of them as 'after' goes on from there
        // (src/Gateway/README.md, "Paging"): the id and the position only, no content. An item's go with its conversation.
        new(ConversationDefaults.Module, 2, """
            CREATE TABLE conversations_gone(id TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT, WITHOUT ROWID;
            CREATE TABLE conversations_items_gone(
                id TEXT PRIMARY KEY,
                conversation_seq INTEGER NOT NULL,
                seq INTEGER NOT NULL) STRICT, WITHOUT ROWID;
            CREATE INDEX conversations_items_gone_by_conversation ON conversations_items_gone(conversation_seq);
            CREATE TRIGGER conversations_items_deleted AFTER DELETE ON conversations_items BEGIN
                INSERT OR REPLACE INTO conversations_items_gone(id, conversation_seq, seq) VALUES(old.id, old.conversation_seq, old.seq);
            END;
            CREATE TRIGGER conversations_deleted AFTER DELETE ON conversations BEGIN
                INSERT OR REPLACE INTO conversations_gone(id, seq) VALUES(old.id, old.seq);
                DELETE FROM conversations_items_gone WHERE conversation_seq = old.seq;
            END;
            """),

        // Tool calls: an assistant's call is a 'function_call' item (call_id, name, content = its arguments) and a
        // tool's answer a 'function_call_output' item (call_id, content = its output), as OpenAI's Conversations API.
        new(ConversationDefaults.Module, 3, """
            ALTER TABLE conversations_items ADD COLUMN type TEXT NOT NULL DEFAULT 'message';
            ALTER TABLE conversations_items ADD COLUMN call_id TEXT;
            ALTER TABLE conversations_items ADD COLUMN name TEXT;
            """),
    ];
}
