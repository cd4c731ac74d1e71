using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Stores;

namespace InferenceMesh.ContextStore.Tests.Rag;

/// <summary>sqlite-vec + FTS5 in the context database: the shared behaviour, plus the extension loading.</summary>
public sealed class SqliteRagServiceTests() : RagServiceTests(RagIndexBackend.Sqlite)
{
    [Fact]
    public void Sqlite_vec_is_loaded_on_every_connection()
    {
        Assert.Null(Rag.Database.ExtensionError(SqliteVec.LibraryPath));
        Assert.Null(Rag.Index.UnavailableReason);
        var version = Rag.Database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT vec_version();";
            return (string)command.ExecuteScalar()!;
        });
        Assert.Equal("v" + SqliteVec.Version, version);
    }

    [Fact]
    public async Task A_store_deleted_right_after_its_insert_is_not_found_never_a_success_without_a_value()
    {
        // A DELETE of the new store (its id read from a listing) between the insert and the read back of the create: a
        // trigger stands in for it, removing each new store in the insert's own transaction, so the interleaving is
        // the same every run. It was a success with a null store: the API's create then failed with a
        // NullReferenceException (a 500).
        Rag.Database.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "CREATE TRIGGER deleted_at_once AFTER INSERT ON rag_vector_stores BEGIN DELETE FROM rag_vector_stores WHERE seq = NEW.seq; END;";
            return command.ExecuteNonQuery();
        });
        var id = VectorStoreRepository.NewId();

        var created = Rag.Stores.TryCreate(id, null, RagPrivacy.Public, HashingEmbedder.Model, ChunkingStrategy.Default, new Dictionary<string, string>(), [], "{}", 0);
        var viaService = await Rag.Rag.CreateStoreAsync(new CreateVectorStore { EmbeddingModel = HashingEmbedder.Model }, CancellationToken.None);

        Assert.Equal((RagErrorKind.NotFound, $"No vector store with id '{id}'."), (created.Error?.Kind, created.Error?.Message));
        Assert.Equal(RagErrorKind.NotFound, viaService.Error?.Kind);
        Assert.Empty(Rag.Stores.List(true, 100, null)!);
    }
}

/// <summary>PostgreSQL + pgvector on the real test server (tools/setup-test-postgres.sh): the same behaviour.</summary>
public sealed class PgVectorRagServiceTests() : RagServiceTests(RagIndexBackend.Postgres);

/// <summary>
/// Ingestion and search over a real SQLite context database with each index backend: idempotent, consistent when
/// embedding fails, cancellable, resumable after a stop. Every test runs once per backend (the subclasses).
/// </summary>
public abstract class RagServiceTests(RagIndexBackend backend) : IDisposable
{
    private readonly RagFixture _rag = new(backend: backend);

    internal RagFixture Rag => _rag;

    public void Dispose()
    {
        _rag.Dispose();
        GC.SuppressFinalize(this);
    }

    private static string Sentences(int count, string topic) =>
        string.Join(" ", Enumerable.Range(0, count).Select(i => $"Sentence {i} is about {topic} number {i}."));

    [Fact]
    public async Task A_file_is_chunked_embedded_in_batches_indexed_and_found()
    {
        var fileId = await _rag.AddTextFileAsync(Sentences(40, "apples") + " The walrus sleeps on the ice.");
        var store = await _rag.CreateStoreAsync(new ChunkingStrategy(100, 20), fileId);

        var result = await _rag.Rag.IngestAsync(store.Id, fileId, null, CancellationToken.None);

        Assert.True(result.Succeeded, result.Error?.Message);
        Assert.Equal(VectorStoreFileStatus.Completed, result.Value!.Status);
        var chunks = _rag.ChunkRows(store.Id);
        Assert.Equal(result.Value.Chunks, chunks);
        Assert.True(chunks >= 3, $"{chunks} chunks");
        Assert.Equal((int)Math.Ceiling(chunks / 4.0), _rag.Embedder.Calls); // batches of 4
        Assert.Equal(32, _rag.Rag.FindStore(store.Id)!.Dimensions);

        var hits = await _rag.Rag.SearchAsync([store.Id], "walrus ice", 3, null, CancellationToken.None);
        Assert.True(hits.Succeeded, hits.Error?.Message);
        Assert.Contains("walrus sleeps on the ice", hits.Value![0].Text, StringComparison.Ordinal);
        Assert.Equal(1.0, hits.Value[0].Score, 6); // first in both lists
        Assert.Equal("doc.txt", hits.Value[0].FileName);
    }

    [Fact]
    public async Task Ingesting_again_is_a_no_op_and_replacing_chunks_is_idempotent()
    {
        var fileId = await _rag.AddTextFileAsync(Sentences(30, "pears"));
        var store = await _rag.CreateStoreAsync(null, fileId);
        await _rag.Rag.IngestAsync(store.Id, fileId, null, CancellationToken.None);
        var calls = _rag.Embedder.Calls;
        var chunks = _rag.ChunkRows(store.Id);

        var again = await _rag.Rag.IngestAsync(store.Id, fileId, null, CancellationToken.None);

        Assert.Equal(VectorStoreFileStatus.Completed, again.Value!.Status);
        Assert.Equal(calls, _rag.Embedder.Calls);
        var reference = new RagStoreRef(store.Seq, store.Id);
        IndexedChunk[] replacement = [new(0, "only chunk", 2, _rag.Embedder.Embed("only chunk"))];
        _rag.Index.ReplaceFileChunks(reference, fileId, replacement);
        _rag.Index.ReplaceFileChunks(reference, fileId, replacement);
        Assert.Equal(1, _rag.ChunkRows(store.Id));
        Assert.Single(_rag.Index.SearchVectors(reference, _rag.Embedder.Embed("anything"), 10));
        Assert.True(chunks > 1);
    }

    [Fact]
    public async Task An_embedding_failure_mid_file_marks_it_failed_and_indexes_none_of_it()
    {
        var good = await _rag.AddTextFileAsync("The lighthouse keeper writes in her logbook.", "good.txt");
        var store = await _rag.CreateStoreAsync(null, good);
        await _rag.Rag.IngestAsync(store.Id, good, null, CancellationToken.None);
        var bad = await _rag.AddTextFileAsync(Sentences(60, "plums"), "bad.txt");
        _rag.Rag.AddFileToStore(store.Id, bad, null, "{}");
        _rag.Embedder.FailOnCall = _rag.Embedder.Calls + 2; // the second batch of the new file

        var result = await _rag.Rag.IngestAsync(store.Id, bad, null, CancellationToken.None);

        Assert.Equal(VectorStoreFileStatus.Failed, result.Value!.Status);
        Assert.Equal("server_error", result.Value.ErrorCode);
        Assert.Contains("failed on purpose", result.Value.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(0, _rag.ChunkRows(store.Id, bad));
        var counts = _rag.Rag.FindStore(store.Id)!.FileCounts;
        Assert.Equal((1, 1, 0), (counts.Completed, counts.Failed, counts.InProgress));
        var hits = await _rag.Rag.SearchAsync([store.Id], "plums lighthouse", 10, null, CancellationToken.None);
        Assert.All(hits.Value!, h => Assert.Equal(good, h.FileId));
        Assert.Equal("ok", _rag.Database.IntegrityCheck());
    }

    [Fact]
    public async Task Removing_a_file_cancels_its_ingestion_and_leaves_nothing_behind()
    {
        var fileId = await _rag.AddTextFileAsync(Sentences(40, "cherries"));
        var store = await _rag.CreateStoreAsync(null, fileId);
        _rag.Embedder.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var ingestion = _rag.Rag.IngestAsync(store.Id, fileId, null, CancellationToken.None);
        await _rag.Embedder.FirstCall.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var removed = _rag.Rag.RemoveFileFromStore(store.Id, fileId);
        var result = await ingestion.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(removed.Succeeded);
        Assert.True(!result.Succeeded || result.Value!.Status == VectorStoreFileStatus.Cancelled, result.Value?.Status); // ended as cancelled, or found the file gone
        Assert.Equal(0, _rag.ChunkRows(store.Id));
        Assert.False(_rag.Rag.FindStoreFile(store.Id, fileId).Succeeded);
        Assert.NotNull(_rag.Files.Find(fileId)); // the file itself stays
    }

    [Fact]
    public async Task A_stopped_ingestion_stays_in_progress_and_the_next_run_completes_it()
    {
        var fileId = await _rag.AddTextFileAsync(Sentences(40, "figs"));
        var store = await _rag.CreateStoreAsync(null, fileId);
        _rag.Embedder.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();

        var ingestion = _rag.Rag.IngestAsync(store.Id, fileId, null, stop.Token);
        await _rag.Embedder.FirstCall.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        var stopped = await ingestion.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(RagErrorKind.Cancelled, stopped.Error!.Kind);
        Assert.Equal(VectorStoreFileStatus.InProgress, _rag.Rag.FindStoreFile(store.Id, fileId).Value!.Status);
        Assert.Contains((store.Id, fileId), _rag.Stores.ListInProgress());
        Assert.Equal(0, _rag.ChunkRows(store.Id));

        _rag.Embedder.Gate.SetResult();
        var resumed = await _rag.Rag.IngestAsync(store.Id, fileId, null, CancellationToken.None);
        Assert.Equal(VectorStoreFileStatus.Completed, resumed.Value!.Status);
    }

    [Fact]
    public async Task Deleting_a_file_removes_its_chunks_from_every_store_and_deleting_a_store_drops_its_vectors()
    {
        var fileId = await _rag.AddTextFileAsync(Sentences(20, "dates"));
        var first = await _rag.CreateStoreAsync(null, fileId);
        var second = await _rag.CreateStoreAsync(null, fileId);
        await _rag.Rag.IngestAsync(first.Id, fileId, null, CancellationToken.None);
        await _rag.Rag.IngestAsync(second.Id, fileId, null, CancellationToken.None);
        Assert.True(_rag.ChunkRows(first.Id) > 0 && _rag.ChunkRows(second.Id) > 0);

        Assert.True(_rag.Rag.DeleteFile(fileId).Succeeded);
        Assert.Equal(0, _rag.ChunkRows(first.Id));
        Assert.Equal(0, _rag.ChunkRows(second.Id));
        Assert.False(File.Exists(Path.Combine(_rag.Files.Folder, fileId)));
        Assert.Empty(_rag.Index.SearchVectors(new RagStoreRef(first.Seq, first.Id), _rag.Embedder.Embed("dates"), 5));

        Assert.Equal(2, _rag.VectorTables());
        Assert.True(_rag.Rag.DeleteStore(first.Id).Succeeded);
        Assert.Equal(1, _rag.VectorTables()); // the second store's stays
        Assert.Null(_rag.Rag.FindStore(first.Id));
        Assert.Equal(0, _rag.Index.CountChunks(new RagStoreRef(first.Seq, first.Id)));
    }

    [Theory]
    [InlineData("NEAR(walrus ice) OR \"x\" * -y AND")]
    [InlineData("walrus:ice ^ice (")]
    public async Task Query_syntax_characters_are_searched_as_words(string query)
    {
        var fileId = await _rag.AddTextFileAsync("The walrus sleeps on the ice.");
        var store = await _rag.CreateStoreAsync(null, fileId);
        await _rag.Rag.IngestAsync(store.Id, fileId, null, CancellationToken.None);

        var hits = await _rag.Rag.SearchAsync([store.Id], query, 5, null, CancellationToken.None);

        Assert.True(hits.Succeeded, hits.Error?.Message);
        Assert.Single(hits.Value!);
        Assert.Equal("\"walrus\" OR \"ice\"", SqliteRagIndex.FullTextQuery("walrus ice walrus"));
        Assert.Null(SqliteRagIndex.FullTextQuery("*** ()"));
        Assert.Equal("'walrus' | 'ice'", PgVectorRagIndex.TextQuery("walrus ice walrus"));
        Assert.Null(PgVectorRagIndex.TextQuery("*** ()"));
    }

    [Fact]
    public void Vector_search_returns_the_nearest_neighbours()
    {
        var random = new Random(7);
        var store = _rag.Stores.Create("vs_test", null, RagPrivacy.Public, HashingEmbedder.Model, ChunkingStrategy.Default, new Dictionary<string, string>(), [], "{}", 0);
        var reference = new RagStoreRef(store.Seq, store.Id);
        var vectors = Enumerable.Range(0, 300).Select(_ => RandomUnit(random, 16)).ToArray();
        _rag.Index.ReplaceFileChunks(reference, "file-x", [.. vectors.Select((v, i) => new IndexedChunk(i, "chunk " + i, 2, v))]);
        var query = RandomUnit(random, 16);

        var found = _rag.Index.SearchVectors(reference, query, 10).Select(h => h.ChunkId).ToList();

        var ids = _rag.Index.GetChunks(found).ToDictionary(c => c.Id, c => c.Index);
        var exact = vectors.Select((v, i) => (i, Distance: 1 - v.Zip(query, (a, b) => a * b).Sum())).OrderBy(p => p.Distance).Take(10).Select(p => p.i);
        Assert.Equal(exact, found.Select(id => ids[id]));
    }

    [Fact]
    public async Task Two_deletes_of_one_file_or_store_at_once_succeed_once()
    {
        var fileId = await _rag.AddTextFileAsync("Tom has a red ball.");
        var store = await _rag.CreateStoreAsync(null, fileId);
        var other = await _rag.CreateStoreAsync();
        // Both deletes have found what they delete before either removes it: each waits in the index for the other.
        using var bothFound = new Barrier(2);
        var rag = new RagService(_rag.Database, _rag.Files, _rag.Stores, new MeetingIndex(_rag.Index, bothFound), _rag.Embedder, _rag.Options,
            TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<RagService>.Instance, []);

        var files = await Task.WhenAll(Task.Run(() => rag.DeleteFile(fileId)), Task.Run(() => rag.DeleteFile(fileId)));
        var stores = await Task.WhenAll(Task.Run(() => rag.DeleteStore(other.Id)), Task.Run(() => rag.DeleteStore(other.Id)));

        Assert.Single(files, r => r.Succeeded);
        Assert.Equal(RagErrorKind.NotFound, Assert.Single(files, r => !r.Succeeded).Error!.Kind);
        Assert.Single(stores, r => r.Succeeded);
        Assert.Equal(RagErrorKind.NotFound, Assert.Single(stores, r => !r.Succeeded).Error!.Kind);
        Assert.Null(_rag.Files.Find(fileId));
        Assert.NotNull(_rag.Rag.FindStore(store.Id));
    }

    [Fact]
    public async Task Two_removals_of_one_file_from_a_store_at_once_succeed_once()
    {
        var fileId = await _rag.AddTextFileAsync("Tom has a red ball.");
        var store = await _rag.CreateStoreAsync(null, fileId);
        using var bothFound = new Barrier(2);
        var rag = new RagService(_rag.Database, _rag.Files, _rag.Stores, new MeetingIndex(_rag.Index, bothFound), _rag.Embedder, _rag.Options,
            TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<RagService>.Instance, []);

        var removals = await Task.WhenAll(Task.Run(() => rag.RemoveFileFromStore(store.Id, fileId)), Task.Run(() => rag.RemoveFileFromStore(store.Id, fileId)));

        Assert.Single(removals, r => r.Succeeded); // both said 200
        Assert.Equal(RagErrorKind.NotFound, Assert.Single(removals, r => !r.Succeeded).Error!.Kind);
        Assert.Equal(0, _rag.Rag.FindStore(store.Id)!.FileCounts.Total);
        Assert.NotNull(_rag.Files.Find(fileId));
    }

    [Fact]
    public async Task Adding_a_file_or_store_that_a_concurrent_delete_removed_is_not_found_and_writes_nothing()
    {
        var kept = await _rag.AddTextFileAsync("Tom has a red ball.");
        var gone = await _rag.AddTextFileAsync("Sue has a blue cup.");
        var store = await _rag.CreateStoreAsync();
        var reference = new RagStoreRef(store.Seq, store.Id);
        Assert.True(_rag.Rag.DeleteFile(gone).Succeeded);

        // What a request that looked the file and the store up just before the delete then writes (it was a 500:
        // SQLite's foreign key failure).
        Assert.Equal(AddFileOutcome.FileGone, _rag.Stores.AddFile(reference, gone, ChunkingStrategy.Default, "{}", 0));
        var created = _rag.Stores.TryCreate(VectorStoreRepository.NewId(), null, RagPrivacy.Public, HashingEmbedder.Model, ChunkingStrategy.Default,
            new Dictionary<string, string>(), [kept, gone], "{}", 0);
        Assert.Equal((RagErrorKind.NotFound, "file_ids"), (created.Error!.Kind, created.Error.Param));
        Assert.Equal([store.Id], _rag.Stores.List(true, 100, null)!.Select(s => s.Id));
        Assert.Equal(0, _rag.Rag.FindStore(store.Id)!.FileCounts.Total);

        Assert.True(_rag.Rag.DeleteStore(store.Id).Succeeded);
        Assert.Equal(AddFileOutcome.StoreGone, _rag.Stores.AddFile(reference, kept, ChunkingStrategy.Default, "{}", 0));
    }

    /// <summary>The real index, where removing a file or dropping a store first waits until two callers are there.</summary>
    private sealed class MeetingIndex(IRagIndex inner, Barrier meeting) : IRagIndex
    {
        public string? UnavailableReason => inner.UnavailableReason;

        public void ReplaceFileChunks(RagStoreRef store, string fileId, IReadOnlyList<IndexedChunk> chunks) => inner.ReplaceFileChunks(store, fileId, chunks);

        public void RemoveFile(RagStoreRef store, string fileId)
        {
            Assert.True(meeting.SignalAndWait(TimeSpan.FromSeconds(30)), "the other delete never came");
            inner.RemoveFile(store, fileId);
        }

        public void DropStore(RagStoreRef store)
        {
            Assert.True(meeting.SignalAndWait(TimeSpan.FromSeconds(30)), "the other delete never came");
            inner.DropStore(store);
        }

        public IReadOnlyList<RankedChunk> SearchVectors(RagStoreRef store, float[] query, int k) => inner.SearchVectors(store, query, k);

        public IReadOnlyList<RankedChunk> SearchText(RagStoreRef store, string query, int k) => inner.SearchText(store, query, k);

        public IReadOnlyList<StoredChunk> GetChunks(IReadOnlyCollection<long> ids) => inner.GetChunks(ids);

        public long CountChunks(RagStoreRef store) => inner.CountChunks(store);
    }

    private static float[] RandomUnit(Random random, int dimensions)
    {
        var v = Enumerable.Range(0, dimensions).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var norm = MathF.Sqrt(v.Sum(x => x * x));
        return [.. v.Select(x => x / norm)];
    }
}

public sealed class RagWithoutSqliteVecTests : IDisposable
{
    private readonly RagFixture _rag = new(sqliteVecPath: "/nonexistent/vec0.so");

    public void Dispose() => _rag.Dispose();

    [Fact]
    public async Task A_missing_extension_leaves_the_database_usable_and_fails_vector_stores_with_one_clear_line()
    {
        var error = _rag.Database.ExtensionError("/nonexistent/vec0.so");
        Assert.Contains("/nonexistent/vec0.so", error, StringComparison.Ordinal);
        Assert.Equal("ok", _rag.Database.IntegrityCheck());
        var fileId = await _rag.AddTextFileAsync("Files still work.");

        var store = await _rag.Rag.CreateStoreAsync(new CreateVectorStore { FileIds = [fileId] }, CancellationToken.None);

        Assert.Equal(RagErrorKind.Unavailable, store.Error!.Kind);
        Assert.StartsWith("Vector search is unavailable:", store.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', store.Error.Message);
    }
}
