using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.ContextStore.Storage;

namespace InferenceMesh.ContextStore.Tests.Rag;

/// <summary>
/// SQLite gives a deleted row's id again (the newest one's): chunk ids and store seqs in the embedded index must not
/// let a stale id, or a late write for a deleted store, land on another document or store.
/// </summary>
public sealed class SqliteRagIndexReuseTests : IDisposable
{
    private readonly RagFixture _rag = new();

    public void Dispose() => _rag.Dispose();

    private IndexedChunk Chunk(int index, string text) => new(index, text, 3, _rag.Embedder.Embed(text));

    [Fact]
    public async Task A_hit_read_before_the_newest_file_is_deleted_never_names_the_next_files_chunk()
    {
        var confidential = await _rag.CreateStoreAsync();
        var other = await _rag.CreateStoreAsync();
        var secret = new RagStoreRef(confidential.Seq, confidential.Id);
        _rag.Index.ReplaceFileChunks(secret, "file-a", [Chunk(0, "walrus ice station")]);
        // A search reads ids first and resolves them with a second read; the file is deleted in between.
        var hits = _rag.Index.SearchVectors(secret, _rag.Embedder.Embed("walrus ice station"), 5).Select(h => h.ChunkId).ToList();
        _rag.Index.RemoveFile(secret, "file-a");
        _rag.Index.ReplaceFileChunks(new RagStoreRef(other.Seq, other.Id), "file-b", [Chunk(0, "garden tomatoes")]);

        // Before: the id was the new chunk's, of another store, and the hit showed "garden tomatoes".
        Assert.Single(hits);
        Assert.Empty(_rag.Index.GetChunks(hits));
    }

    [Fact]
    public async Task A_late_write_for_a_deleted_store_does_not_land_in_the_store_that_got_its_seq()
    {
        var deleted = await _rag.CreateStoreAsync();
        var late = new RagStoreRef(deleted.Seq, deleted.Id);
        Assert.True(_rag.Rag.DeleteStore(deleted.Id).Succeeded);
        var next = await _rag.CreateStoreAsync();
        Assert.Equal(deleted.Seq, next.Seq); // the scenario: the seq is given again
        var reference = new RagStoreRef(next.Seq, next.Id);
        _rag.Index.ReplaceFileChunks(reference, "file-b", [Chunk(0, "garden tomatoes")]);

        // An ingestion of the deleted store that ends now (another process, or past its cancellation check) writes,
        // then finds its membership gone and removes what it wrote.
        _rag.Index.ReplaceFileChunks(late, "file-a", [Chunk(0, "walrus ice station")]);
        _rag.Index.RemoveFile(late, "file-b");

        Assert.Equal(1, _rag.ChunkRows(next.Id));
        Assert.Equal(1, _rag.ChunkRows(next.Id, "file-b"));
        var found = _rag.Index.GetChunks([.. _rag.Index.SearchVectors(reference, _rag.Embedder.Embed("walrus ice station"), 5).Select(h => h.ChunkId)]);
        Assert.Equal(["garden tomatoes"], found.Select(c => c.Text));
    }

    [Fact]
    public void The_migration_keeps_every_chunk_its_id_and_its_full_text_entry()
    {
        var folder = Path.Combine(_rag.Directory, "old");
        var options = new ContextStoreOptions { DataDirectory = folder, Extensions = [SqliteVec.LibraryPath] };
        RagStoreRef reference;
        List<long> ids;
        using (var old = ContextDatabase.Open(options, RagMigrations.All.Take(2)))
        {
            var store = new VectorStoreRepository(old).Create("vs_old", null, RagPrivacy.Public, HashingEmbedder.Model, ChunkingStrategy.Default, new Dictionary<string, string>(), [], "{}", 0);
            reference = new RagStoreRef(store.Seq, store.Id);
            var index = new SqliteRagIndex(old, SqliteVec.LibraryPath);
            index.ReplaceFileChunks(reference, "file-a", [Chunk(0, "walrus ice station"), Chunk(1, "garden tomatoes")]);
            ids = [.. index.SearchText(reference, "walrus tomatoes", 5).Select(h => h.ChunkId).Order()];
        }

        using var upgraded = ContextDatabase.Open(options, RagMigrations.All);
        var after = new SqliteRagIndex(upgraded, SqliteVec.LibraryPath);

        Assert.Equal(ids, after.SearchText(reference, "walrus tomatoes", 5).Select(h => h.ChunkId).Order());
        Assert.Equal(["walrus ice station", "garden tomatoes"], after.GetChunks(ids).OrderBy(c => c.Index).Select(c => c.Text));
        after.RemoveFile(reference, "file-a");
        after.ReplaceFileChunks(reference, "file-b", [Chunk(0, "a seal")]);
        Assert.Empty(after.GetChunks(ids)); // not given again
        Assert.Equal("a seal", Assert.Single(after.GetChunks([.. after.SearchText(reference, "seal", 5).Select(h => h.ChunkId)])).Text);
    }
}
