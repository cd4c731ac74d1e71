using System.Diagnostics;
using System.Globalization;
using System.Text;
using InferenceMesh.Bench.Rag;
using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.Gateway.Cli;
using Npgsql;

// bench-rag DATA_DIR MODELS_DIR MODEL INGEST_CHUNKS SEARCH_CHUNKS QUERIES THREADS BACKENDS -> Markdown tables on stdout.
// 1. Ingest (sqlite-vec): synthetic documents through the whole path (file store, extraction, token-aware chunking,
//    batched embeddings from the local engine, sqlite-vec + FTS5 writes); reference: the engine embedding the same
//    chunk texts alone, in the same run (the ceiling for ingestion).
// 2. For each backend of BACKENDS (sqlite,postgres): the same SEARCH_CHUNKS chunks (synthetic text, synthetic unit
//    vectors of the model's dimension) written through IRagIndex in files of 1000 registered as completed, then the
//    same queries: vector search, full-text search and the whole hybrid search (query embedding, both searches, RRF,
//    rows); reference for the vector search: an exact brute-force scan in C# over the same vectors in memory.
// 3. Recall@10 of each backend's vector search against that exact brute force, on the same queries.
// postgres: the connection string in INFERENCE_MESH_RAG_POSTGRES, schema BENCH_RAG_PG_SCHEMA (dropped at the end).
if (args is not [var data, var models, var model, var ingestText, var searchText, var queriesText, var threadsText, var backendsText])
{
    Console.Error.WriteLine("usage: bench-rag DATA_DIR MODELS_DIR MODEL INGEST_CHUNKS SEARCH_CHUNKS QUERIES THREADS BACKENDS(sqlite,postgres)");
    return 2;
}

var ingestChunks = int.Parse(ingestText, CultureInfo.InvariantCulture);
var searchChunks = int.Parse(searchText, CultureInfo.InvariantCulture);
var queryCount = int.Parse(queriesText, CultureInfo.InvariantCulture);
var threads = int.Parse(threadsText, CultureInfo.InvariantCulture);
var backends = backendsText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
const int ChunkTokens = 200;
const int OverlapTokens = 40;
const int K = 10;
const int WarmUp = 10;

var host = RagCliHost.Open(Path.Combine(data, "ingest"), models, model, threads); // closed before the search part: one engine at a time
var rag = host.Rag;
var corpus = new Corpus(seed: 42);
var rows = new List<string>();
void Log(string line) => Console.Error.WriteLine($"[bench-rag {DateTime.UtcNow:HH:mm:ss}] {line}");

// ---- 1. ingest ----
var ingestStore = await rag.CreateStoreAsync(new CreateVectorStore { Name = "bench-ingest", EmbeddingModel = model, Chunking = new ChunkingStrategy(ChunkTokens, OverlapTokens) }, CancellationToken.None);
if (ingestStore.Error is { } createError)
{
    Console.Error.WriteLine(createError.Message);
    return 1;
}

var embedder = (await new EngineRagEmbedderSourceProbe(rag).GetAsync(model)).Value!;
var wordsPerChunk = Math.Max(10, (ChunkTokens - OverlapTokens) * corpus.Text(400).Split(' ').Length / Math.Max(1, embedder.CountTokens(corpus.Text(400))));
var documents = Math.Max(1, ingestChunks / 20);
var fileIds = new List<string>();
for (var d = 0; d < documents; d++)
{
    using var stream = new MemoryStream(Encoding.UTF8.GetBytes(corpus.Text(wordsPerChunk * 20)));
    fileIds.Add((await rag.AddFileAsync(stream, $"doc-{d}.txt", "assistants", CancellationToken.None)).Value!.Id);
}

var store = ingestStore.Value!;
foreach (var id in fileIds)
{
    rag.AddFileToStore(store.Id, id, null, "{}");
}

Log($"ingesting {documents} documents");
var ingestWatch = Stopwatch.StartNew();
var totalChunks = 0;
foreach (var id in fileIds)
{
    var result = await rag.IngestAsync(store.Id, id, null, CancellationToken.None);
    totalChunks += result.Value?.Chunks ?? throw new InvalidOperationException(result.Error?.Message);
}

ingestWatch.Stop();
var chunkTexts = rag.Index.GetChunks([.. Enumerable.Range(1, totalChunks).Select(i => (long)i)]).Select(c => c.Text).ToList(); // a fresh database: ids 1..N
var embedWatch = Stopwatch.StartNew();
for (var i = 0; i < chunkTexts.Count; i += rag.Options.EmbeddingBatchSize)
{
    _ = await embedder.EmbedAsync(chunkTexts.Skip(i).Take(rag.Options.EmbeddingBatchSize).ToList(), CancellationToken.None);
}

embedWatch.Stop();
var ours = totalChunks / ingestWatch.Elapsed.TotalSeconds;
var reference = chunkTexts.Count / embedWatch.Elapsed.TotalSeconds;
rows.Add(Row($"ingest {totalChunks} chunks of ≤{ChunkTokens} tokens ({documents} files; chunks/s), sqlite-vec", ours, reference, ours / reference, "ratio: whole ingestion / embeddings alone (≤ 1; the gap is extraction, chunking and SQLite)"));

// ---- 2. the same 100k chunks in each backend ----
var dimensions = rag.FindStore(store.Id)!.Dimensions ?? throw new InvalidOperationException("no dimension");
var modelId = embedder.ModelId;
await host.DisposeAsync();
const int PerFile = 1000;
var texts = new string[searchChunks];
var vectors = new float[searchChunks][];
for (var i = 0; i < searchChunks; i++)
{
    vectors[i] = corpus.UnitVector(dimensions);
    texts[i] = corpus.Text(60);
}

var queries = Enumerable.Range(0, queryCount + WarmUp).Select(_ => (Text: corpus.Query(), Vector: corpus.UnitVector(dimensions))).ToList();
var exact = queries.Select(q => BruteForce(vectors, q.Vector, K)).ToList();
var bruteTimes = new List<double>();
foreach (var (_, vector) in queries.Skip(WarmUp))
{
    var watch = Stopwatch.StartNew();
    _ = BruteForce(vectors, vector, K);
    bruteTimes.Add(watch.Elapsed.TotalMilliseconds);
}

var results = new List<BackendResult>();
var efSweep = new List<(int EfSearch, (List<double> Times, double Recall) Result)>();
foreach (var backend in backends)
{
    PgVectorRagIndexOptions? postgres = null;
    if (backend == "postgres")
    {
        var connection = Environment.GetEnvironmentVariable(PgVectorDefaults.ConnectionStringVariable)
            ?? throw new InvalidOperationException($"postgres: set {PgVectorDefaults.ConnectionStringVariable}");
        postgres = new PgVectorRagIndexOptions { ConnectionString = connection, Schema = Environment.GetEnvironmentVariable("BENCH_RAG_PG_SCHEMA") ?? "bench_rag" };
    }
    else if (backend != "sqlite")
    {
        throw new InvalidOperationException($"unknown backend '{backend}' (sqlite, postgres)");
    }

    await using var backendHost = RagCliHost.Open(Path.Combine(data, backend), models, model, threads, postgres);
    var service = backendHost.Rag;
    if (service.Index.UnavailableReason is { } reason)
    {
        throw new InvalidOperationException(reason);
    }

    try
    {
        var result = await MeasureAsync(backend, service);
        results.Add(result);
        if (postgres is not null)
        {
            // The recall/latency trade-off of HNSW on the same index: only the search breadth changes, no rebuild.
            foreach (var ef in (Environment.GetEnvironmentVariable("BENCH_RAG_PG_EF_SEARCH") ?? "40,100,200,400,1000").Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                using var sweep = new PgVectorRagIndex(postgres with { EfSearch = int.Parse(ef, CultureInfo.InvariantCulture) }, TimeProvider.System,
                    Microsoft.Extensions.Logging.Abstractions.NullLogger<PgVectorRagIndex>.Instance);
                efSweep.Add((int.Parse(ef, CultureInfo.InvariantCulture), SweepVectors(sweep, result)));
            }
        }
    }
    finally
    {
        if (postgres is not null)
        {
            await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
            await using var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS {postgres.Schema} CASCADE;");
            await drop.ExecuteNonQueryAsync();
        }
    }
}

Console.WriteLine("| Measurement | ours | reference | ratio | note |");
Console.WriteLine("|---|---|---|---|---|");
foreach (var row in rows)
{
    Console.WriteLine(row);
}

Console.WriteLine();
Console.WriteLine($"| At {searchChunks} chunks of {dimensions} dimensions, {queryCount} queries | {string.Join(" | ", results.Select(r => r.Name))} | reference | note |");
Console.WriteLine($"|---|{string.Concat(results.Select(_ => "---|"))}---|---|");
void Line(string name, Func<BackendResult, double> value, double reference, string note) =>
    Console.WriteLine($"| {name} | {string.Join(" | ", results.Select(r => Format(value(r))))} | {Format(reference)} | {note} |");
Line("write (chunks/s, 1000 per transaction)", r => r.WritePerSecond, double.NaN, "chunks, vectors and full-text index in one transaction per file");
Line($"vector search k={K}, p50 (ms)", r => P(r.Vector, 50), P(bruteTimes, 50), "reference: exact SIMD brute force in C# over the vectors in memory");
Line($"vector search k={K}, p99 (ms)", r => P(r.Vector, 99), P(bruteTimes, 99), "");
Line("full-text search (40 candidates), p50 (ms)", r => P(r.Text, 50), double.NaN, "FTS5 bm25 / tsvector + GIN, ts_rank_cd");
Line("full-text search (40 candidates), p99 (ms)", r => P(r.Text, 99), double.NaN, "");
Line($"hybrid search k={K}, p50 (ms)", r => P(r.Hybrid, 50), double.NaN, "RagService.SearchAsync: query embedding + vector (40) + full text (40) + RRF + rows; what POST …/search costs");
Line($"hybrid search k={K}, p99 (ms)", r => P(r.Hybrid, 99), double.NaN, "");
Line("of which: query embedding alone, p50 (ms)", r => P(r.Embed, 50), double.NaN, "the same engine call the hybrid search makes first (the rest is the two searches, RRF, rows, SQLite metadata)");
Line($"recall@{K} vs exact brute force", r => r.Recall, 1, $"sqlite-vec scans exactly (1.0 expected); pgvector's HNSW is approximate (ef_search {PgVectorDefaults.EfSearch}, the default; see the sweep below)");
if (efSweep.Count > 0)
{
    Console.WriteLine();
    Console.WriteLine($"| pgvector HNSW (m=16, ef_construction=64) at {searchChunks} chunks: hnsw.ef_search | vector search p50 (ms) | p99 (ms) | recall@{K} |");
    Console.WriteLine("|---|---|---|---|");
    foreach (var (ef, (times, recall)) in efSweep)
    {
        Console.WriteLine($"| {ef} | {Format(P(times, 50))} | {Format(P(times, 99))} | {Format(recall)} |");
    }
}

return 0;

(List<double> Times, double Recall) SweepVectors(IRagIndex index, BackendResult measured)
{
    var times = new List<double>();
    double recall = 0;
    for (var q = 0; q < queries.Count; q++)
    {
        var watch = Stopwatch.StartNew();
        var found = index.SearchVectors(measured.Store, queries[q].Vector, K);
        var elapsed = watch.Elapsed.TotalMilliseconds;
        if (q < WarmUp)
        {
            continue;
        }

        times.Add(elapsed);
        var positions = index.GetChunks([.. found.Select(h => h.ChunkId)]).Select(c => measured.PositionOfFile[c.FileId] + c.Index).ToHashSet();
        recall += exact[q].Count(positions.Contains) / (double)K;
    }

    return (times, recall / queryCount);
}

async Task<BackendResult> MeasureAsync(string name, RagService service)
{
    var big = service.Stores.Create(VectorStoreRepository.NewId(), "bench-search", RagPrivacy.Confidential, modelId, ChunkingStrategy.Default, new Dictionary<string, string>(), [], "{}", 0);
    var bigRef = new RagStoreRef(big.Seq, big.Id);
    Log($"{name}: writing {searchChunks} chunks of {dimensions} dimensions");
    // Each 1000 chunks are one registered file marked completed, so the hybrid search returns them like ingested ones.
    var files = new List<string>();
    for (var start = 0; start < searchChunks; start += PerFile)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes("bench"));
        var file = (await service.AddFileAsync(stream, $"bench-{start}.txt", "assistants", CancellationToken.None)).Value!;
        service.AddFileToStore(big.Id, file.Id, null, "{}");
        files.Add(file.Id);
    }

    var watch = Stopwatch.StartNew();
    for (var start = 0; start < searchChunks; start += PerFile)
    {
        var end = Math.Min(searchChunks, start + PerFile);
        service.Index.ReplaceFileChunks(bigRef, files[start / PerFile], [.. Enumerable.Range(start, end - start).Select(i => new IndexedChunk(i - start, texts[i], 120, vectors[i]))]);
    }

    watch.Stop();
    var writePerSecond = searchChunks / watch.Elapsed.TotalSeconds;
    service.Stores.SetDimensions(bigRef, dimensions); // as ingestion does: without it the hybrid search would skip the vectors
    foreach (var file in files)
    {
        service.Stores.SetFileStatus(bigRef, file, VectorStoreFileStatus.Completed, null, null, 0, PerFile);
    }

    var positionOfFile = files.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i * PerFile);
    var vecTimes = new List<double>();
    var textTimes = new List<double>();
    var hybridTimes = new List<double>();
    var embedTimes = new List<double>();
    var queryEmbedder = (await service.Embedders.GetAsync(modelId, CancellationToken.None)).Value!;
    double recallSum = 0;
    Log($"{name}: {WarmUp} warm-up and {queryCount} measured queries");
    for (var q = 0; q < queries.Count; q++)
    {
        var (text, vector) = queries[q];
        var measured = q >= WarmUp;
        watch.Restart();
        var found = service.Index.SearchVectors(bigRef, vector, K);
        var vecMs = watch.Elapsed.TotalMilliseconds;

        watch.Restart();
        _ = service.Index.SearchText(bigRef, text, 4 * K);
        var textMs = watch.Elapsed.TotalMilliseconds;

        watch.Restart();
        var hybrid = await service.SearchAsync([big.Id], text, K, null, CancellationToken.None);
        var hybridMs = watch.Elapsed.TotalMilliseconds;
        if (hybrid.Error is { } searchError) throw new InvalidOperationException(searchError.Message);
        if (hybrid.Value!.Count != K) throw new InvalidOperationException($"{name}: the hybrid search returned {hybrid.Value.Count} hits, not {K}");
        watch.Restart();
        _ = await queryEmbedder.EmbedAsync([text], CancellationToken.None);
        var embedMs = watch.Elapsed.TotalMilliseconds;
        if (!measured)
        {
            continue;
        }

        embedTimes.Add(embedMs);
        vecTimes.Add(vecMs);
        textTimes.Add(textMs);
        hybridTimes.Add(hybridMs);
        var foundPositions = service.Index.GetChunks([.. found.Select(h => h.ChunkId)]).Select(c => positionOfFile[c.FileId] + c.Index).ToHashSet();
        recallSum += exact[q].Count(foundPositions.Contains) / (double)K;
    }

    return new BackendResult(name == "sqlite" ? "sqlite-vec + FTS5" : "pgvector (HNSW) + tsvector", writePerSecond, vecTimes, textTimes, hybridTimes, embedTimes, recallSum / queryCount,
        bigRef, positionOfFile);
}

static string Row(string name, double ours, double reference, double ratio, string note) =>
    string.Create(CultureInfo.InvariantCulture, $"| {name} | {Format(ours)} | {Format(reference)} | {Format(ratio)} | {note} |");

static string Format(double value) => double.IsNaN(value) ? "–" : value.ToString(value >= 100 ? "0" : "0.000", CultureInfo.InvariantCulture);

static double P(List<double> values, int percentile)
{
    var sorted = values.Order().ToList();
    var index = (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1;
    return sorted[Math.Clamp(index, 0, sorted.Count - 1)];
}

static List<int> BruteForce(float[][] vectors, float[] query, int k)
{
    // Cosine distance on unit vectors = 1 - dot product: the k largest dot products.
    var best = new PriorityQueue<int, float>();
    for (var i = 0; i < vectors.Length; i++)
    {
        var dot = Dot(vectors[i], query);
        if (best.Count < k)
        {
            best.Enqueue(i, dot);
        }
        else if (best.TryPeek(out _, out var lowest) && dot > lowest)
        {
            best.DequeueEnqueue(i, dot);
        }
    }

    return [.. best.UnorderedItems.Select(e => e.Element)];
}

static float Dot(float[] a, float[] b)
{
    var sum = System.Numerics.Vector<float>.Zero;
    var width = System.Numerics.Vector<float>.Count;
    var i = 0;
    for (; i <= a.Length - width; i += width)
    {
        sum += new System.Numerics.Vector<float>(a, i) * new System.Numerics.Vector<float>(b, i);
    }

    var result = System.Numerics.Vector.Sum(sum);
    for (; i < a.Length; i++)
    {
        result += a[i] * b[i];
    }

    return result;
}

/// <summary>One backend's measurements at the search store's size.</summary>
internal sealed record BackendResult(string Name, double WritePerSecond, List<double> Vector, List<double> Text, List<double> Hybrid, List<double> Embed, double Recall,
    RagStoreRef Store, Dictionary<string, int> PositionOfFile);

/// <summary>The store's embedder, from the same host the RAG service uses.</summary>
internal sealed class EngineRagEmbedderSourceProbe(RagService rag)
{
    public ValueTask<RagResult<InferenceMesh.ContextStore.Rag.Embedding.IRagEmbedder>> GetAsync(string model) =>
        rag.Embedders.GetAsync(model, CancellationToken.None);
}
