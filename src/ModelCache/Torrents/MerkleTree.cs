using System.Security.Cryptography;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>
/// The SHA-256 merkle tree of BEP 52: leaves are the hashes of 16 KiB blocks, a tree is padded to a power-of-two width,
/// and padding nodes are the hash of an all-zero subtree of their height (a zero leaf is 32 zero bytes).
/// </summary>
internal static class MerkleTree
{
    public const int BlockSize = 16 << 10;

    public const int HashSize = 32;

    /// <summary>The hash of a subtree of 2^<paramref name="height"/> zero leaves.</summary>
    public static byte[] PadHash(int height)
    {
        var hash = new byte[HashSize];
        var pair = new byte[HashSize * 2];
        for (var i = 0; i < height; i++)
        {
            hash.CopyTo(pair, 0);
            hash.CopyTo(pair, HashSize);
            hash = SHA256.HashData(pair);
        }

        return hash;
    }

    /// <summary>The smallest power of two at least <paramref name="count"/> (1 for 0).</summary>
    public static long Width(long count) => count <= 1 ? 1 : (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)count);

    /// <summary>The root over <paramref name="nodes"/> (32 bytes each) padded with <paramref name="pad"/> to <paramref name="width"/> nodes.</summary>
    public static byte[] Root(ReadOnlySpan<byte> nodes, int width, byte[] pad)
    {
        var count = nodes.Length / HashSize;
        if (count > width || !int.IsPow2(width))
        {
            throw new ArgumentOutOfRangeException(nameof(width), "The width is a power of two covering every node.");
        }

        var level = new byte[width * HashSize];
        nodes.CopyTo(level);
        for (var i = count; i < width; i++)
        {
            pad.CopyTo(level, i * HashSize);
        }

        for (var size = width; size > 1; size /= 2)
        {
            for (var i = 0; i < size / 2; i++)
            {
                SHA256.HashData(level.AsSpan(i * 2 * HashSize, 2 * HashSize), level.AsSpan(i * HashSize, HashSize));
            }
        }

        return level[..HashSize];
    }

    /// <summary>The file's root from its piece layer (more than one piece of <paramref name="blocksPerPiece"/> blocks).</summary>
    public static byte[] RootOfLayer(ReadOnlySpan<byte> pieceLayer, int blocksPerPiece)
    {
        var pieces = pieceLayer.Length / HashSize;
        return Root(pieceLayer, (int)Width(pieces), PadHash(System.Numerics.BitOperations.Log2((uint)blocksPerPiece)));
    }
}
