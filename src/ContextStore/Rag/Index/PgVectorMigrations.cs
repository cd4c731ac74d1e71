using InferenceMesh.ContextStore.Storage;

namespace InferenceMesh.ContextStore.Rag.Index;

/// <summary>
/// The PostgreSQL schema of module "rag-index" (<see cref="PgVectorRagIndex"/>), versioned like the SQLite modules
/// (<see cref="ContextMigration"/>; applied versions in the schema's own <c>schema_migrations</c>). Each statement runs
/// with the index's schema first on <c>search_path</c>, so names are unqualified.
/// </summary>
/// <remarks>
/// Stores are keyed by their id (random, so several data folders may share one schema without colliding) and get a
/// number <c>seq</c> here that names their vector table <c>rag_vec_{seq}</c>: <c>vector(dim)</c> with an HNSW index
/// (cosine), created with the store's first chunk when the dimension is known, dropped with the store. One table per
/// store, like sqlite-vec's, so a search never filters an approximate index by store.
/// </remarks>
public static class PgVectorMigrations
{
    public const string Module = "rag-index";

    public static IReadOnlyList<ContextMigration> All { get; } =
    [
        new(Module, 1, $"""
            CREATE TABLE rag_stores(
                seq bigserial PRIMARY KEY,
                id text NOT NULL UNIQUE,
                dimensions integer);

            CREATE TABLE rag_chunks(
                id bigserial PRIMARY KEY,
                store_seq bigint NOT NULL REFERENCES rag_stores(seq) ON DELETE CASCADE,
                file_id text NOT NULL,
                chunk_index integer NOT NULL,
                text text NOT NULL,
                tokens integer NOT NULL,
                tsv tsvector GENERATED ALWAYS AS (to_tsvector('{PgVectorDefaults.TextSearchConfig}', text)) STORED,
                UNIQUE(store_seq, file_id, chunk_index));
            CREATE INDEX rag_chunks_tsv ON rag_chunks USING gin(tsv);
            """),
    ];
}
