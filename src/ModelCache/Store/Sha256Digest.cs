using System.Diagnostics.CodeAnalysis;

namespace InferenceMesh.ModelCache.Store;

/// <summary>
/// A SHA-256 digest as the store spells it: exactly 64 lowercase hex characters. <see cref="TryParse"/> is the one
/// place digest strings are validated (CLI, manifest rows, sidecars, blob file names); anything else is refused, so a
/// digest can never carry a path separator, a dot or a NUL into a file name.
/// </summary>
public readonly record struct Sha256Digest
{
    /// <summary>Hex characters in a digest.</summary>
    public const int HexLength = 64;

    /// <summary>The prefix of blob file names: <c>sha256-&lt;hex&gt;</c>.</summary>
    public const string BlobPrefix = "sha256-";

    private Sha256Digest(string hex) => Hex = hex;

    /// <summary>The 64 lowercase hex characters.</summary>
    public string Hex { get; }

    /// <summary>The blob's file name in <c>blobs/</c>.</summary>
    public string BlobFileName => BlobPrefix + Hex;

    /// <summary>True when <paramref name="text"/> is exactly 64 characters of [0-9a-f].</summary>
    public static bool IsValid([NotNullWhen(true)] string? text)
    {
        if (text is null || text.Length != HexLength)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Parses a digest; uppercase, prefixes ("sha256:"), whitespace and any other length are refused.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out Sha256Digest digest)
    {
        digest = IsValid(text) ? new Sha256Digest(text) : default;
        return digest.Hex is not null;
    }

    /// <summary>Parses a digest or throws <see cref="FormatException"/> (for values already validated elsewhere).</summary>
    public static Sha256Digest Parse(string text) =>
        TryParse(text, out var digest) ? digest : throw new FormatException("A SHA-256 digest is exactly 64 lowercase hex characters.");

    /// <summary>The digest of a finished hash (32 bytes).</summary>
    public static Sha256Digest FromBytes(ReadOnlySpan<byte> hash)
    {
        if (hash.Length != 32)
        {
            throw new ArgumentException("A SHA-256 hash is 32 bytes.", nameof(hash));
        }

        return new Sha256Digest(Convert.ToHexStringLower(hash));
    }

    public override string ToString() => Hex ?? string.Empty;
}
