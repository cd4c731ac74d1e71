using InferenceMesh.ContextStore.Storage;

namespace InferenceMesh.ContextStore.Rag;

/// <summary>The schema of module "rag": files, vector stores, their files, chunks and the chunks' full-text index.</summary>
/// <remarks>
/// Each vector store's vectors live in its own sqlite-vec table <c>rag_vec_{seq}</c> (created at the store's first
/// embedding, when the dimension is known; dropped with the store), so they are not part of the migrations.
/// </remarks>
public static class RagMigrations
{
    public const string Module = "rag";

    /// <summary>Keep <c>rag_chunks_fts</c> in step with <c>rag_chunks</c> (made again when migration 3 rebuilds the table).</summary>
    private const string ChunkFullTextTriggers = """
        CREATE TRIGGER rag_chunks_fts_insert AFTER INSERT ON rag_chunks BEGIN
            INSERT INTO rag_chunks_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER rag_chunks_fts_delete AFTER DELETE ON rag_chunks BEGIN
            INSERT INTO rag_chunks_fts(rag_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        """;

    public static IReadOnlyList<ContextMigration> All { get; } =
    [
        new(Module, 1, $$"""
            CREATE TABLE rag_files(
                id TEXT PRIMARY KEY,
                filename TEXT NOT NULL,
                purpose TEXT NOT NULL,
                bytes INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                created_at INTEGER NOT NULL) STRICT;

            CREATE TABLE rag_vector_stores(
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                name TEXT,
                privacy TEXT NOT NULL,
                embedding_model TEXT NOT NULL,
                dimensions INTEGER,
                max_chunk_tokens INTEGER NOT NULL,
                chunk_overlap_tokens INTEGER NOT NULL,
                metadata TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                last_active_at INTEGER NOT NULL) STRICT;

            CREATE TABLE rag_vector_store_files(
                store_seq INTEGER NOT NULL REFERENCES rag_vector_stores(seq) ON DELETE CASCADE,
                file_id TEXT NOT NULL REFERENCES rag_files(id) ON DELETE CASCADE,
                status TEXT NOT NULL,
                error_code TEXT,
                error_message TEXT,
                max_chunk_tokens INTEGER NOT NULL,
                chunk_overlap_tokens INTEGER NOT NULL,
                attributes TEXT NOT NULL,
                usage_bytes INTEGER NOT NULL,
                chunks INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY(store_seq, file_id)) STRICT;
            CREATE INDEX rag_vector_store_files_status ON rag_vector_store_files(status);

            CREATE TABLE rag_chunks(
                id INTEGER PRIMARY KEY,
                store_seq INTEGER NOT NULL,
                file_id TEXT NOT NULL,
                chunk_index INTEGER NOT NULL,
                text TEXT NOT NULL,
                tokens INTEGER NOT NULL,
                UNIQUE(store_seq, file_id, chunk_index)) STRICT;

            CREATE VIRTUAL TABLE rag_chunks_fts USING fts5(
                text, content='rag_chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
            {{ChunkFullTextTriggers}}
            """),

        // Where deleted entries were, so that a client paging with one of them as 'after' goes on from there
        // (src/Gateway/README.md, "Paging"): the id and the position only. A store's file entries go with the store.
        new(Module, 2, """
            CREATE TABLE rag_files_gone(id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, row INTEGER NOT NULL) STRICT, WITHOUT ROWID;
            CREATE TABLE rag_vector_stores_gone(id TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT, WITHOUT ROWID;
            CREATE TABLE rag_vector_store_files_gone(
                store_seq INTEGER NOT NULL,
                file_id TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                row INTEGER NOT NULL,
                PRIMARY KEY(store_seq, file_id)) STRICT, WITHOUT ROWID;
            CREATE TRIGGER rag_files_deleted AFTER DELETE ON rag_files BEGIN
                INSERT OR REPLACE INTO rag_files_gone(id, created_at, row) VALUES(old.id, old.created_at, old.rowid);
            END;
            CREATE TRIGGER rag_vector_store_files_deleted AFTER DELETE ON rag_vector_store_files BEGIN
                INSERT OR REPLACE INTO rag_vector_store_files_gone(store_seq, file_id, created_at, row)
                    VALUES(old.store_seq, old.file_id, old.created_at, old.rowid);
            END;
            CREATE TRIGGER rag_vector_stores_deleted AFTER DELETE ON rag_vector_stores BEGIN
                INSERT OR REPLACE INTO rag_vector_stores_gone(id, seq) VALUES(old.id, old.seq);
                DELETE FROM rag_vector_store_files_gone WHERE store_seq = old.seq;
            END;
            """),

        // Chunk ids are never reused (AUTOINCREMENT): the chunks of the newest file, deleted, gave their ids to the next
        // file's chunks, so an id read by a search just before (vector and full-text hits are ids, resolved by a later
        // read) named another file's chunk, even one of another store. The table is rebuilt with its ids; the full-text
        // index keeps pointing at them. Dropping the old table drops its triggers, so they are made again.
        new(Module, 3, $$"""
            CREATE TABLE rag_chunks_v3(
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                store_seq INTEGER NOT NULL,
                file_id TEXT NOT NULL,
                chunk_index INTEGER NOT NULL,
                text TEXT NOT NULL,
                tokens INTEGER NOT NULL,
                UNIQUE(store_seq, file_id, chunk_index)) STRICT;
            INSERT INTO rag_chunks_v3(id, store_seq, file_id, chunk_index, text, tokens)
                SELECT id, store_seq, file_id, chunk_index, text, tokens FROM rag_chunks;
            DROP TABLE rag_chunks;
            ALTER TABLE rag_chunks_v3 RENAME TO rag_chunks;
            {{ChunkFullTextTriggers}}
            """),
    ];
}
