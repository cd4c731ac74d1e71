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

    public static IReadOnlyList<ContextMigration> All { get; } =
    [
        new(Module, 1, """
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
            CREATE TRIGGER rag_chunks_fts_insert AFTER INSERT ON rag_chunks BEGIN
                INSERT INTO rag_chunks_fts(rowid, text) VALUES (new.id, new.text);
            END;
            CREATE TRIGGER rag_chunks_fts_delete AFTER DELETE ON rag_chunks BEGIN
                INSERT INTO rag_chunks_fts(rag_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
            END;
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
    ];
}
