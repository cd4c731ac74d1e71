using System.Diagnostics;
using System.Globalization;
using System.Text;
using InferenceMesh.Bench.Rag;
using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.Gateway.Cli;

// bench-rag DATA_DIR MODELS_DIR MODEL INGEST_CHUNKS SEARCH_CHUNKS QUERIES THREADS -> a Markdown table on stdout.
// 1. Ingest: synthetic documents through the whole path (file store, extraction, token-aware chunking, batched
//    embeddings from the local engine, sqlite-vec + FTS5 writes); reference: the engine embedding the same chunk
//    texts alone, in the same run (the ceiling for ingestion).
// 2. Search at SEARCH_CHUNKS chunks (synthetic text, synthetic unit vectors of the model's dimension, written through
//    IRagIndex): latency of the vector search, the full-text search and the whole hybrid search (query embedding
//    included); reference for the vector search: an exact brute-force scan in C# over the same vectors in memory.
// 3. Recall@10 of sqlite-vec's vec0 KNN against that exact brute force, on the same queries.
if (args is not [var data, var models, var model, var ingestText, var searchText, var queriesText, var threadsText])
{
    Console.Error.WriteLine("usage: bench-rag DATA_DIR MODELS_DIR MODEL INGEST_CHUNKS SEARCH_CHUNKS QUERIES THREADS");
    return 2;
}

var ingestChunks = int.Parse(ingestText, CultureInfo.InvariantCulture);
var searchChunks = int.Parse(searchText, CultureInfo.InvariantCulture);
var queryCount = int.Parse(queriesText, CultureInfo.InvariantCulture);
var threads = int.Parse(threadsText, CultureInfo.InvariantCulture);
const int ChunkTokens = 200;
const int OverlapTokens = 40;
const int K = 10;

await using var host = RagCliHost.Open(data, models, model, threads);
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
rows.Add(Row($"ingest {totalChunks} chunks of ≤{ChunkTokens} tokens ({documents} files; chunks/s)", ours, reference, ours / reference, "ratio: whole ingestion / embeddings alone (≤ 1; the gap is extraction, chunking and SQLite)"));

// ---- 2. the 100k-chunk store ----
var dimensions = rag.FindStore(store.Id)!.Dimensions ?? throw new InvalidOperationException("no dimension");
var big = rag.Stores.Create(VectorStoreRepository.NewId(), "bench-search", RagPrivacy.Confidential, embedder.ModelId, ChunkingStrategy.Default, new Dictionary<string, string>(), [], "{}", 0);
var bigRef = new RagStoreRef(big.Seq, big.Id);
var vectors = new float[searchChunks][];
Log($"writing {searchChunks} chunks of {dimensions} dimensions");
const int PerFile = 1000;
var writeWatch = Stopwatch.StartNew();
for (var start = 0; start < searchChunks; start += PerFile)
{
    var batch = new List<IndexedChunk>();
    for (var i = start; i < Math.Min(searchChunks, start + PerFile); i++)
    {
        vectors[i] = corpus.UnitVector(dimensions);
        batch.Add(new IndexedChunk(i - start, corpus.Text(60), 120, vectors[i]));
    }

    rag.Index.ReplaceFileChunks(bigRef, $"file-bench{start:D19}", batch);
}

writeWatch.Stop();
rows.Add(Row($"write {searchChunks} chunks to sqlite-vec + FTS5 (chunks/s, 1000 per transaction)", searchChunks / writeWatch.Elapsed.TotalSeconds, double.NaN, double.NaN, ""));
// Resolve each stored chunk id to its vector's position once (ids are assigned by SQLite).
var positions = new Dictionary<long, int>();
for (var first = totalChunks + 1; first <= totalChunks + searchChunks; first += 10_000)
{
    var count = Math.Min(10_000, totalChunks + searchChunks - first + 1);
    foreach (var chunk in rag.Index.GetChunks([.. Enumerable.Range(first, count).Select(i => (long)i)]))
    {
        positions[chunk.Id] = (int)(long.Parse(chunk.FileId["file-bench".Length..], CultureInfo.InvariantCulture) + chunk.Index);
    }
}

if (positions.Count != searchChunks)
{
    throw new InvalidOperationException($"expected {searchChunks} chunk ids, found {positions.Count}: run on a fresh data folder");
}

_ = rag.Index.SearchVectors(bigRef, vectors[0], K); // warm-up

var queries = Enumerable.Range(0, queryCount).Select(_ => (Text: corpus.Query(), Vector: corpus.UnitVector(dimensions))).ToList();
var vecTimes = new List<double>();
var bruteTimes = new List<double>();
var textTimes = new List<double>();
var hybridTimes = new List<double>();
double recallSum = 0;
Log($"{queryCount} queries");
foreach (var (text, vector) in queries)
{
    var watch = Stopwatch.StartNew();
    var found = rag.Index.SearchVectors(bigRef, vector, K);
    vecTimes.Add(watch.Elapsed.TotalMilliseconds);

    watch.Restart();
    var exact = BruteForce(vectors, vector, K);
    bruteTimes.Add(watch.Elapsed.TotalMilliseconds);
    var foundPositions = found.Select(h => positions[h.ChunkId]).ToHashSet();
    recallSum += exact.Count(foundPositions.Contains) / (double)K;

    watch.Restart();
    _ = rag.Index.SearchText(bigRef, text, 4 * K);
    textTimes.Add(watch.Elapsed.TotalMilliseconds);

    watch.Restart();
    var hybrid = await rag.SearchAsync([big.Id], text, K, null, CancellationToken.None);
    hybridTimes.Add(watch.Elapsed.TotalMilliseconds);
    if (hybrid.Error is { } searchError) throw new InvalidOperationException(searchError.Message);
}

rows.Add(Row($"vector search k={K} at {searchChunks} chunks, p50 (ms)", P(vecTimes, 50), P(bruteTimes, 50), P(vecTimes, 50) / P(bruteTimes, 50), "reference: exact brute force in C# over the vectors in memory"));
rows.Add(Row($"vector search k={K} at {searchChunks} chunks, p99 (ms)", P(vecTimes, 99), P(bruteTimes, 99), P(vecTimes, 99) / P(bruteTimes, 99), ""));
rows.Add(Row($"full-text search (FTS5 bm25, 40 candidates), p50 / p99 (ms)", P(textTimes, 50), P(textTimes, 99), double.NaN, "second column is p99"));
rows.Add(Row($"hybrid search (query embedding + vec0 + FTS5 + RRF + rows), p50 / p99 (ms)", P(hybridTimes, 50), P(hybridTimes, 99), double.NaN, "second column is p99; what POST …/search costs"));
rows.Add(Row($"recall@{K} of vec0 vs exact brute force ({queryCount} queries)", recallSum / queryCount, 1, recallSum / queryCount, "vec0 scans exactly: 1.0 expected"));

Console.WriteLine("| Measurement | ours | reference | ratio | note |");
Console.WriteLine("|---|---|---|---|---|");
foreach (var row in rows)
{
    Console.WriteLine(row);
}

return 0;

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

/// <summary>The store's embedder, from the same host the RAG service uses.</summary>
internal sealed class EngineRagEmbedderSourceProbe(RagService rag)
{
    public ValueTask<RagResult<InferenceMesh.ContextStore.Rag.Embedding.IRagEmbedder>> GetAsync(string model) =>
        rag.Embedders.GetAsync(model, CancellationToken.None);
}
