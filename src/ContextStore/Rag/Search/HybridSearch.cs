using InferenceMesh.ContextStore.Rag.Index;

namespace InferenceMesh.ContextStore.Rag.Search;

/// <summary>
/// Reciprocal rank fusion (Cormack et al., 2009): each ranked list gives a chunk 1 / (k + rank), rank counted from 1,
/// and the fused score is the sum. Only ranks matter, so a cosine distance and a bm25 score need no calibration.
/// </summary>
public static class HybridSearch
{
    /// <summary>Chunk ids by fused score, best first; ties by chunk id, so the order is deterministic.</summary>
    public static IReadOnlyList<(long ChunkId, double Score)> Fuse(IEnumerable<IReadOnlyList<RankedChunk>> lists, int k = RagDefaults.RrfK)
    {
        var scores = new Dictionary<long, double>();
        foreach (var list in lists)
        {
            for (var rank = 0; rank < list.Count; rank++)
            {
                var id = list[rank].ChunkId;
                scores[id] = scores.GetValueOrDefault(id) + 1.0 / (k + rank + 1);
            }
        }

        return [.. scores.OrderByDescending(p => p.Value).ThenBy(p => p.Key).Select(p => (p.Key, p.Value))];
    }

    /// <summary>A fused score scaled to [0, 1]: 1 is first in both the vector and the full-text list of its store.</summary>
    public static double Normalise(double fused, int k = RagDefaults.RrfK) => Math.Min(1, fused / (2.0 / (k + 1)));
}

/// <summary>One search result: a chunk, where it comes from and its normalised fused score.</summary>
public sealed record RagSearchHit(string StoreId, string FileId, string FileName, int ChunkIndex, string Text, double Score, string AttributesJson);
