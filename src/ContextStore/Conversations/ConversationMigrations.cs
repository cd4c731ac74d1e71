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
    ];
}
