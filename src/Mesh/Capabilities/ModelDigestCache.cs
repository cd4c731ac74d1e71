using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace InferenceMesh.Mesh.Capabilities;

/// <summary>SHA-256 of model files, computed once per file and reused while its size and write time stay the same. Thread-safe.</summary>
public sealed class ModelDigestCache
{
    private readonly ConcurrentDictionary<string, (long Size, DateTimeOffset WriteTime, string Digest)> _digests = new(StringComparer.Ordinal);

    /// <summary>How many files were hashed (tests check the cache hits).</summary>
    public int Computations => _computations;

    private int _computations;

    public string GetDigest(LocalModelFile model)
    {
        if (_digests.TryGetValue(model.Path, out var cached) && cached.Size == model.SizeBytes && cached.WriteTime == model.LastWriteUtc)
        {
            return cached.Digest;
        }

        using var stream = new FileStream(model.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        var digest = Convert.ToHexStringLower(SHA256.HashData(stream));
        Interlocked.Increment(ref _computations);
        _digests[model.Path] = (model.SizeBytes, model.LastWriteUtc, digest);
        return digest;
    }
}
