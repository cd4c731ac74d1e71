using System.Collections.Concurrent;
using System.Text;
using InferenceMesh.ContextStore.Rag.Chunking;
using InferenceMesh.ContextStore.Rag.Embedding;
using InferenceMesh.ContextStore.Rag.Extraction;
using InferenceMesh.ContextStore.Rag.Files;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Ingestion;
using InferenceMesh.ContextStore.Rag.Search;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.ContextStore.Rag;

/// <summary>What a new vector store is made of (OpenAI's create request plus our privacy level and embedding model).</summary>
public sealed record CreateVectorStore
{
    public string? Name { get; init; }

    public IReadOnlyList<string> FileIds { get; init; } = [];

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    public ChunkingStrategy Chunking { get; init; } = ChunkingStrategy.Default;

    public RagPrivacy Privacy { get; init; } = RagDefaults.Privacy;

    /// <summary>Null: <see cref="RagOptions.EmbeddingModel"/>, else the embedder source's default.</summary>
    public string? EmbeddingModel { get; init; }
}

/// <summary>
/// Files, vector stores, ingestion and hybrid search over the context database: the one entry point of the HTTP API,
/// the retrieval stage and the CLI. Ingestion of a (store, file) is idempotent (its chunks are replaced atomically),
/// cancellable (removing the file cancels it) and leaves the store consistent when it fails (status "failed" with
/// <c>last_error</c>, no partial chunks). Thread-safe.
/// </summary>
public sealed partial class RagService
{
    private readonly ContextDatabase _database;
    private readonly RagFileStore _files;
    private readonly VectorStoreRepository _stores;
    private readonly IRagIndex _index;
    private readonly IRagEmbedderSource _embedders;
    private readonly RagOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RagService> _logger;
    private readonly ConcurrentDictionary<(string StoreId, string FileId), CancellationTokenSource> _running = new();

    public RagService(ContextDatabase database, RagFileStore files, VectorStoreRepository stores, IRagIndex index,
        IRagEmbedderSource embedders, RagOptions options, TimeProvider time, ILogger<RagService> logger, IEnumerable<IRagIngestionQueue> queues)
    {
        Queue = queues.FirstOrDefault();
        _database = database;
        _files = files;
        _stores = stores;
        _index = index;
        _embedders = embedders;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>The gateway's background worker: new (store, file) pairs are handed to it. Null (the CLI): callers ingest themselves.</summary>
    public IRagIngestionQueue? Queue { get; }

    public RagFileStore Files => _files;

    public VectorStoreRepository Stores => _stores;

    public IRagIndex Index => _index;

    public RagOptions Options => _options;

    public IRagEmbedderSource Embedders => _embedders;

    // ---- files ----

    public Task<RagResult<RagFile>> AddFileAsync(Stream content, string? fileName, string purpose, CancellationToken cancellationToken) =>
        _files.AddAsync(content, fileName, purpose, cancellationToken);

    /// <summary>Deletes a file everywhere: its ingestions are cancelled, its chunks leave every store, then its row and content go.</summary>
    public RagResult<RagFile> DeleteFile(string fileId)
    {
        if (_files.Find(fileId) is not { } file)
        {
            return RagError.NotFound("file", fileId, "file_id");
        }

        try
        {
            foreach (var store in _stores.StoresOfFile(fileId))
            {
                Cancel(store.Id, fileId);
                _index.RemoveFile(store, fileId);
            }
        }
        catch (RagIndexUnavailableException ex)
        {
            return new RagError(RagErrorKind.Unavailable, ex.Message, null, "vector_index_unavailable");
        }

        // Another delete of the same file may have come between the Find above and here: only the one that removes the
        // row has deleted it, the others report that it does not exist (as they would a moment later).
        if (!_database.Write((connection, transaction) => _files.DeleteRow(connection, transaction, fileId)))
        {
            return RagError.NotFound("file", fileId, "file_id");
        }

        _files.DeleteContent(fileId);
        return file;
    }

    // ---- vector stores ----

    public async Task<RagResult<VectorStore>> CreateStoreAsync(CreateVectorStore request, CancellationToken cancellationToken)
    {
        if (request.Name is { Length: > RagDefaults.MaxNameLength })
        {
            return RagError.Invalid("name", $"'name' must be at most {RagDefaults.MaxNameLength} characters.");
        }

        if (request.Chunking.Validate("chunking_strategy") is { } chunkingError)
        {
            return chunkingError;
        }

        if (CheckFiles(request.FileIds, "file_ids") is { } fileError)
        {
            return fileError;
        }

        if (_index.UnavailableReason is { } reason)
        {
            return new RagError(RagErrorKind.Unavailable, reason, null, "vector_index_unavailable");
        }

        var model = request.EmbeddingModel ?? _options.EmbeddingModel ?? _embedders.DefaultModel;
        if (model is null)
        {
            return new RagError(RagErrorKind.Unavailable,
                "No embedding model: put a GGUF model in the models folder or name one with --embedding-model.", "embedding_model", "no_embedding_model");
        }

        var embedder = await _embedders.GetAsync(model, cancellationToken);
        if (embedder.Error is { } embedderError)
        {
            return embedderError with { Param = "embedding_model" };
        }

        var created = _stores.TryCreate(VectorStoreRepository.NewId(), request.Name, request.Privacy, embedder.Value!.ModelId, request.Chunking,
            request.Metadata, request.FileIds, "{}", Now());
        if (created.Error is not null)
        {
            return created;
        }

        var store = created.Value!;
        foreach (var fileId in request.FileIds.Distinct(StringComparer.Ordinal))
        {
            Queue?.Enqueue(store.Id, fileId);
        }

        return store;
    }

    public VectorStore? FindStore(string storeId) => _stores.Find(storeId);

    /// <summary>Deletes a store: its ingestions are cancelled, its chunks and vectors dropped, its rows removed.</summary>
    public RagResult<VectorStore> DeleteStore(string storeId)
    {
        if (_stores.Find(storeId) is not { } store)
        {
            return RagError.NotFound("vector store", storeId, "vector_store_id");
        }

        foreach (var key in _running.Keys.Where(k => k.StoreId == store.Id))
        {
            Cancel(key.StoreId, key.FileId);
        }

        var reference = new RagStoreRef(store.Seq, store.Id);
        try
        {
            _index.DropStore(reference);
        }
        catch (RagIndexUnavailableException ex)
        {
            return new RagError(RagErrorKind.Unavailable, ex.Message, null, "vector_index_unavailable");
        }

        // As for files: a concurrent delete of the same store may have removed it since the Find above.
        return _stores.Delete(reference) ? store : RagError.NotFound("vector store", storeId, "vector_store_id");
    }

    /// <summary>Adds a file to a store (ingested in the background when a queue is set); an existing membership is returned unchanged.</summary>
    public RagResult<VectorStoreFile> AddFileToStore(string storeId, string fileId, ChunkingStrategy? chunking, string attributesJson)
    {
        if (_stores.Find(storeId) is not { } store)
        {
            return RagError.NotFound("vector store", storeId, "vector_store_id");
        }

        if (CheckFiles([fileId], "file_id") is { } fileError)
        {
            return fileError;
        }

        var strategy = chunking ?? new ChunkingStrategy(store.MaxChunkTokens, store.ChunkOverlapTokens);
        if (strategy.Validate("chunking_strategy") is { } chunkingError)
        {
            return chunkingError;
        }

        var reference = new RagStoreRef(store.Seq, store.Id);
        switch (_stores.AddFile(reference, fileId, strategy, attributesJson, Now()))
        {
            case AddFileOutcome.StoreGone:
                return RagError.NotFound("vector store", storeId, "vector_store_id");
            case AddFileOutcome.FileGone:
                return RagError.NotFound("file", fileId, "file_id");
            case AddFileOutcome.Added:
                Queue?.Enqueue(store.Id, fileId);
                break;
        }

        // A delete of the file or the store may come between the add and this read.
        return _stores.FindFile(reference, fileId) is { } added ? added : RagError.NotFound("vector store file", fileId, "file_id");
    }

    public RagResult<VectorStoreFile> FindStoreFile(string storeId, string fileId)
    {
        if (_stores.Find(storeId) is not { } store)
        {
            return RagError.NotFound("vector store", storeId, "vector_store_id");
        }

        return _stores.FindFile(new RagStoreRef(store.Seq, store.Id), fileId) is { } file
            ? file
            : RagError.NotFound("vector store file", fileId, "file_id");
    }

    /// <summary>Removes a file from a store (the file itself stays): its ingestion is cancelled and its chunks dropped.</summary>
    public RagResult<VectorStoreFile> RemoveFileFromStore(string storeId, string fileId)
    {
        var found = FindStoreFile(storeId, fileId);
        if (found.Error is not null)
        {
            return found;
        }

        if (_stores.Find(storeId) is not { } store)
        {
            return RagError.NotFound("vector store", storeId, "vector_store_id"); // deleted since the look-up above
        }

        var reference = new RagStoreRef(store.Seq, store.Id);
        Cancel(store.Id, fileId);
        try
        {
            _index.RemoveFile(reference, fileId);
        }
        catch (RagIndexUnavailableException ex)
        {
            return new RagError(RagErrorKind.Unavailable, ex.Message, null, "vector_index_unavailable");
        }

        // As for files and stores: of two removals at once, only the one that removes the row has removed the file.
        return _stores.RemoveFile(reference, fileId) ? found : RagError.NotFound("vector store file", fileId, "file_id");
    }

    // ---- ingestion ----

    /// <summary>
    /// Extracts, chunks, embeds (in batches) and indexes one file of one store, then marks it "completed" — or "failed"
    /// with <c>last_error</c>, or "cancelled" when <see cref="Cancel"/> stopped it. When <paramref name="cancellationToken"/>
    /// stops it (shutdown, Ctrl-C) it stays "in_progress" and a later run ingests it again. Nothing is indexed partly.
    /// </summary>
    public async Task<RagResult<VectorStoreFile>> IngestAsync(string storeId, string fileId, IProgress<IngestProgress>? progress, CancellationToken cancellationToken)
    {
        var key = (storeId, fileId);
        using var own = new CancellationTokenSource();
        if (!_running.TryAdd(key, own))
        {
            return new RagError(RagErrorKind.Invalid, "This file is already being ingested into this store.", "file_id", "ingestion_running");
        }

        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, own.Token);
            return await IngestCoreAsync(storeId, fileId, progress, own, linked.Token);
        }
        finally
        {
            _running.TryRemove(new KeyValuePair<(string, string), CancellationTokenSource>(key, own));
        }
    }

    /// <summary>Cancels the ingestion of (store, file) when one runs in this process; it ends as "cancelled".</summary>
    public void Cancel(string storeId, string fileId)
    {
        if (_running.TryGetValue((storeId, fileId), out var running))
        {
            try
            {
                running.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // finished meanwhile
            }
        }
    }

    private async Task<RagResult<VectorStoreFile>> IngestCoreAsync(string storeId, string fileId, IProgress<IngestProgress>? progress, CancellationTokenSource own, CancellationToken cancellationToken)
    {
        if (_stores.Find(storeId) is not { } store)
        {
            return RagError.NotFound("vector store", storeId, "vector_store_id");
        }

        var reference = new RagStoreRef(store.Seq, store.Id);
        if (_stores.FindFile(reference, fileId) is not { } membership)
        {
            return RagError.NotFound("vector store file", fileId, "file_id");
        }

        if (membership.Status == VectorStoreFileStatus.Completed)
        {
            return membership; // idempotent: already indexed
        }

        if (membership.Status != VectorStoreFileStatus.InProgress)
        {
            _stores.SetFileStatus(reference, fileId, VectorStoreFileStatus.InProgress, null, null, 0, 0);
        }

        try
        {
            var outcome = await BuildChunksAsync(store, membership, progress, cancellationToken);
            if (outcome.Error is { } error)
            {
                Log.IngestFailed(_logger, store.Id, fileId, error.Code ?? error.Kind.ToString());
                return Finish(reference, fileId, VectorStoreFileStatus.Failed, error.Code ?? "server_error", error.Message, 0, 0);
            }

            var chunks = outcome.Value!;
            cancellationToken.ThrowIfCancellationRequested();
            _index.ReplaceFileChunks(reference, fileId, chunks);
            if (chunks.Count > 0)
            {
                _stores.SetDimensions(reference, chunks[0].Vector.Length);
            }

            var usage = chunks.Sum(c => (long)Encoding.UTF8.GetByteCount(c.Text) + (sizeof(float) * c.Vector.Length));
            Log.Ingested(_logger, store.Id, fileId, chunks.Count);
            return Finish(reference, fileId, VectorStoreFileStatus.Completed, null, null, usage, chunks.Count);
        }
        catch (OperationCanceledException) when (own.IsCancellationRequested)
        {
            return Finish(reference, fileId, VectorStoreFileStatus.Cancelled, null, null, 0, 0);
        }
        catch (OperationCanceledException)
        {
            return new RagError(RagErrorKind.Cancelled, "Ingestion was stopped; it resumes on the next run.", null, "cancelled");
        }
        catch (RagIndexUnavailableException ex)
        {
            return Finish(reference, fileId, VectorStoreFileStatus.Failed, "server_error", ex.Message, 0, 0);
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
        {
            Log.IngestError(_logger, store.Id, fileId, ex.GetType().Name, ex);
            return Finish(reference, fileId, VectorStoreFileStatus.Failed, "server_error", "The file could not be indexed (storage error).", 0, 0);
        }
    }

    private RagResult<VectorStoreFile> Finish(RagStoreRef store, string fileId, string status, string? code, string? message, long usage, int chunks)
    {
        // The file can leave the store while it is ingested, also between the status update and the read back:
        // either way, drop what may have been indexed after the removal and say it is gone.
        if (!_stores.SetFileStatus(store, fileId, status, code, message, usage, chunks)
            || _stores.FindFile(store, fileId) is not { } finished)
        {
            _index.RemoveFile(store, fileId);
            return RagError.NotFound("vector store file", fileId, "file_id");
        }

        _stores.TouchStore(store, Now());
        return finished;
    }

    private async Task<RagResult<IReadOnlyList<IndexedChunk>>> BuildChunksAsync(VectorStore store, VectorStoreFile membership, IProgress<IngestProgress>? progress, CancellationToken cancellationToken)
    {
        if (_files.Find(membership.FileId) is not { } file)
        {
            return new RagError(RagErrorKind.NotFound, "The file was deleted.", "file_id", "invalid_file");
        }

        var embedderResult = await _embedders.GetAsync(store.EmbeddingModel, cancellationToken);
        if (embedderResult.Error is { } embedderError)
        {
            return embedderError with { Code = "server_error", Message = $"The store's embedding model '{store.EmbeddingModel}' is not available: {embedderError.Message}" };
        }

        var embedder = embedderResult.Value!;
        progress?.Report(new IngestProgress(file.Id, 0, 0));
        var text = await Task.Run(() => TextExtractor.Extract(_files.PathOf(file.Id), file.FileName), cancellationToken);
        if (text.Error is { } extractError)
        {
            return extractError;
        }

        // Leave room for the special tokens the engine adds (BOS, EOS) to every input.
        var maxTokens = Math.Max(1, Math.Min(membership.MaxChunkTokens, embedder.MaxInputTokens - 2));
        var overlap = Math.Min(membership.ChunkOverlapTokens, maxTokens / 2);
        var chunks = await Task.Run(() => TokenChunker.Chunk(text.Value!, embedder.CountTokens, maxTokens, overlap, cancellationToken), cancellationToken);

        var indexed = new List<IndexedChunk>(chunks.Count);
        progress?.Report(new IngestProgress(file.Id, 0, chunks.Count));
        for (var start = 0; start < chunks.Count; start += _options.EmbeddingBatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = chunks.Skip(start).Take(_options.EmbeddingBatchSize).ToList();
            var vectors = await embedder.EmbedAsync([.. batch.Select(c => c.Text)], cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            if (vectors.Error is { } embedError)
            {
                return embedError with { Code = "server_error", Message = "Embedding failed: " + embedError.Message };
            }

            for (var i = 0; i < batch.Count; i++)
            {
                indexed.Add(new IndexedChunk(batch[i].Index, batch[i].Text, batch[i].Tokens, vectors.Value![i]));
            }

            progress?.Report(new IngestProgress(file.Id, indexed.Count, chunks.Count));
        }

        return indexed;
    }

    // ---- search ----

    /// <summary>
    /// Hybrid search over one or more stores: per store, the query's vector against sqlite-vec and its words against
    /// FTS5, all lists fused with reciprocal rank fusion; only chunks of completed files are returned.
    /// </summary>
    /// <param name="truncateQuery">Cut a query longer than the embedding model takes instead of refusing it (retrieval for chat).</param>
    public async Task<RagResult<IReadOnlyList<RagSearchHit>>> SearchAsync(IReadOnlyList<string> storeIds, string query, int maxResults, double? scoreThreshold,
        CancellationToken cancellationToken, bool truncateQuery = false)
    {
        if (string.IsNullOrWhiteSpace(query))
        {
            return RagError.Invalid("query", "'query' must be a non-empty string.");
        }

        if (query.Length > RagDefaults.MaxQueryLength)
        {
            return RagError.Invalid("query", $"'query' must be at most {RagDefaults.MaxQueryLength} characters.");
        }

        if (maxResults is < 1 or > RagDefaults.MaxSearchResults)
        {
            return RagError.Invalid("max_num_results", $"'max_num_results' must be from 1 to {RagDefaults.MaxSearchResults}.");
        }

        var stores = new List<VectorStore>();
        foreach (var id in storeIds.Distinct(StringComparer.Ordinal))
        {
            if (_stores.Find(id) is not { } store)
            {
                return RagError.NotFound("vector store", id, "vector_store_id");
            }

            stores.Add(store);
        }

        if (_index.UnavailableReason is { } reason)
        {
            return new RagError(RagErrorKind.Unavailable, reason, null, "vector_index_unavailable");
        }

        try
        {
            return await SearchIndexAsync(stores, query, maxResults, scoreThreshold, truncateQuery, cancellationToken);
        }
        catch (RagIndexUnavailableException ex)
        {
            // e.g. the PostgreSQL server went away after start: one line for the client, never a driver exception.
            return new RagError(RagErrorKind.Unavailable, ex.Message, null, "vector_index_unavailable");
        }
    }

    private async Task<RagResult<IReadOnlyList<RagSearchHit>>> SearchIndexAsync(List<VectorStore> stores, string query, int maxResults, double? scoreThreshold,
        bool truncateQuery, CancellationToken cancellationToken)
    {
        var candidates = Math.Max(maxResults * RagDefaults.CandidateFactor, RagDefaults.MinCandidates);
        var lists = new List<IReadOnlyList<RankedChunk>>();
        var queryVectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var store in stores)
        {
            var reference = new RagStoreRef(store.Seq, store.Id);
            if (store.Dimensions is not null)
            {
                if (!queryVectors.TryGetValue(store.EmbeddingModel, out var vector))
                {
                    var embedded = await EmbedQueryAsync(store.EmbeddingModel, query, truncateQuery, cancellationToken);
                    if (embedded.Error is { } embedError)
                    {
                        return embedError;
                    }

                    vector = embedded.Value!;
                    queryVectors[store.EmbeddingModel] = vector;
                }

                lists.Add(_index.SearchVectors(reference, vector, candidates));
            }

            lists.Add(_index.SearchText(reference, query, candidates));
            _stores.TouchStore(reference, Now());
        }

        var fused = HybridSearch.Fuse(lists);
        var top = fused.Take(candidates).ToList();
        var chunks = _index.GetChunks([.. top.Select(t => t.ChunkId)]).ToDictionary(c => c.Id);
        var files = _stores.CompletedFiles([.. chunks.Values.Select(c => (c.StoreId, c.FileId))]);
        var hits = new List<RagSearchHit>();
        foreach (var (chunkId, score) in top)
        {
            if (!chunks.TryGetValue(chunkId, out var chunk) || !files.TryGetValue((chunk.StoreId, chunk.FileId), out var file))
            {
                continue; // a file still being ingested, or removed meanwhile
            }

            var normalised = HybridSearch.Normalise(score);
            if (scoreThreshold is { } threshold && normalised < threshold)
            {
                break;
            }

            hits.Add(new RagSearchHit(chunk.StoreId, chunk.FileId, file.FileName, chunk.Index, chunk.Text, normalised, file.AttributesJson));
            if (hits.Count == maxResults)
            {
                break;
            }
        }

        return hits;
    }

    private async Task<RagResult<float[]>> EmbedQueryAsync(string model, string query, bool truncate, CancellationToken cancellationToken)
    {
        var embedder = await _embedders.GetAsync(model, cancellationToken);
        if (embedder.Error is { } error)
        {
            // The store exists; its model is gone or cannot load: the service is unavailable, not the store missing.
            return error with { Kind = RagErrorKind.Unavailable, Message = $"The store's embedding model '{model}' is not available: {error.Message}" };
        }

        var tokens = embedder.Value!.CountTokens(query);
        var limit = embedder.Value.MaxInputTokens - 2;
        while (truncate && tokens > limit && query.Length > 1)
        {
            query = query[..Math.Max(1, (int)(query.Length * 0.9 * limit / tokens))];
            tokens = embedder.Value.CountTokens(query);
        }

        if (tokens > limit)
        {
            return RagError.Invalid("query", $"'query' has {tokens} tokens; the embedding model takes at most {limit}.");
        }

        var vectors = await embedder.Value.EmbedAsync([query], cancellationToken);
        return vectors.Error is { } embedError ? embedError : vectors.Value![0];
    }

    private RagError? CheckFiles(IReadOnlyList<string> fileIds, string param)
    {
        foreach (var fileId in fileIds)
        {
            if (_files.Find(fileId) is not { } file)
            {
                return RagError.NotFound("file", fileId, param);
            }

            if (file.Purpose is not ("assistants" or "user_data"))
            {
                return RagError.Invalid(param, $"File '{file.Id}' has purpose '{file.Purpose}'; vector stores take files uploaded with purpose 'assistants' or 'user_data'.");
            }
        }

        return null;
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeSeconds();

    private static partial class Log
    {
        [LoggerMessage(EventId = 3100, Level = LogLevel.Information, Message = "Vector store {StoreId}: file {FileId} indexed, {Chunks} chunks")]
        public static partial void Ingested(ILogger logger, string storeId, string fileId, int chunks);

        [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Vector store {StoreId}: file {FileId} failed ({Code})")]
        public static partial void IngestFailed(ILogger logger, string storeId, string fileId, string code);

        [LoggerMessage(EventId = 3102, Level = LogLevel.Error, Message = "Vector store {StoreId}: file {FileId} could not be indexed ({ExceptionType})")]
        public static partial void IngestError(ILogger logger, string storeId, string fileId, string exceptionType, Exception exception);
    }
}
