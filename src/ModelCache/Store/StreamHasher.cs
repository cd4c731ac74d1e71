using System.Security.Cryptography;

namespace InferenceMesh.ModelCache.Store;

/// <summary>Streams a file through SHA-256 (1 MiB reads, sequential-scan hint), reporting bytes read.</summary>
public static class StreamHasher
{
    public static async Task<(Sha256Digest Digest, long Length)> HashFileAsync(string path, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read,
            BufferSize = 0,
            Options = FileOptions.SequentialScan | FileOptions.Asynchronous,
        });
        return await HashAsync(file, progress, cancellationToken).ConfigureAwait(false);
    }

    public static async Task<(Sha256Digest Digest, long Length)> HashAsync(Stream stream, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[StoreDefaults.HashBufferBytes];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            total += read;
            progress?.Report(total);
        }

        return (Sha256Digest.FromBytes(hash.GetHashAndReset()), total);
    }
}
