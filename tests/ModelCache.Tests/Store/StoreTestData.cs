using InferenceMesh.Tests;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.ModelCache.Tests.Store;

/// <summary>The shared test model's bytes and digest, read once.</summary>
internal static class StoreTestData
{
    private static readonly Lazy<byte[]> LazyStories = new(() => File.ReadAllBytes(TestPaths.Stories260K));

    public static byte[] Stories => LazyStories.Value;

    public static Sha256Digest StoriesDigest => Sha256Digest.Parse(LoopbackModelServer.Sha256Hex(Stories));

    /// <summary>The same model with one tensor byte changed: another valid GGUF of the same length, another digest.</summary>
    public static byte[] OtherStories()
    {
        var bytes = Stories.ToArray();
        bytes[^1] ^= 0x01;
        return bytes;
    }

    /// <summary>Every path under <paramref name="root"/>, relative, for "nothing was written outside" checks.</summary>
    public static string[] Tree(string root) =>
        Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p))
            .Order(StringComparer.Ordinal)
            .ToArray();
}
