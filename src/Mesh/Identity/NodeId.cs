using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace InferenceMesh.Mesh.Identity;

/// <summary>
/// A node's id: SHA-256 of its public key (SubjectPublicKeyInfo, DER). Printed like a Syncthing device id:
/// the 52 base32 characters of the hash in four chunks of 13, each followed by a Luhn mod 32 check character
/// (56 characters), grouped in eight groups of seven separated by '-'. Any single mistyped character (and
/// most swaps of neighbours) fails the check, so a typo is refused instead of naming another node.
/// </summary>
public readonly record struct NodeId
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    private const int HashLength = 32;
    private const int ChunkLength = 13;
    private const int GroupLength = 7;

    /// <summary>Length of the printed id without dashes.</summary>
    public const int CharacterCount = 56;

    private readonly byte[]? _hash;

    private NodeId(byte[] hash) => _hash = hash;

    /// <summary>The 32 hash bytes.</summary>
    public ReadOnlySpan<byte> Hash => _hash ?? throw new InvalidOperationException("Default NodeId.");

    public static NodeId FromPublicKey(ReadOnlySpan<byte> subjectPublicKeyInfo) => new(SHA256.HashData(subjectPublicKeyInfo));

    public static NodeId FromCertificate(X509Certificate2 certificate) =>
        FromPublicKey(certificate.PublicKey.ExportSubjectPublicKeyInfo());

    public static NodeId FromHash(ReadOnlySpan<byte> hash) =>
        hash.Length == HashLength ? new NodeId(hash.ToArray()) : throw new ArgumentException("A node id is 32 bytes.", nameof(hash));

    /// <summary>Parses a printed id: case-insensitive, dashes and spaces ignored; false when a check character does not match.</summary>
    public static bool TryParse(string? text, out NodeId id) => TryParse(text, out id, out _);

    /// <summary>As <see cref="TryParse(string?, out NodeId)"/>, with the reason when it fails (for the CLI and config errors).</summary>
    public static bool TryParse(string? text, out NodeId id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the node id is empty";
            return false;
        }

        Span<char> chars = stackalloc char[CharacterCount];
        var count = 0;
        foreach (var c in text)
        {
            if (c is '-' or ' ')
            {
                continue;
            }

            var upper = char.ToUpperInvariant(c);
            if (Alphabet.IndexOf(upper, StringComparison.Ordinal) < 0)
            {
                error = $"'{c}' is not a node id character (A-Z, 2-7)";
                return false;
            }

            if (count == CharacterCount)
            {
                error = $"a node id has {CharacterCount} characters";
                return false;
            }

            chars[count++] = upper;
        }

        if (count != CharacterCount)
        {
            error = $"a node id has {CharacterCount} characters (got {count})";
            return false;
        }

        Span<char> data = stackalloc char[4 * ChunkLength];
        for (var chunk = 0; chunk < 4; chunk++)
        {
            var withCheck = chars.Slice(chunk * (ChunkLength + 1), ChunkLength + 1);
            if (LuhnBase32(withCheck[..ChunkLength]) != withCheck[ChunkLength])
            {
                error = $"check character {chunk + 1} of 4 does not match: the id has a typo";
                return false;
            }

            withCheck[..ChunkLength].CopyTo(data.Slice(chunk * ChunkLength, ChunkLength));
        }

        var hash = Base32Decode(data);
        if (hash is null)
        {
            error = "the node id does not decode to 32 bytes";
            return false;
        }

        id = new NodeId(hash);
        error = null;
        return true;
    }

    public static NodeId Parse(string text) =>
        TryParse(text, out var id, out var error) ? id : throw new FormatException($"Invalid node id: {error}.");

    /// <summary>The printed form, e.g. <c>MFZWI3D-BONSGYC-…</c> (8 groups of 7).</summary>
    public override string ToString()
    {
        if (_hash is null)
        {
            return "";
        }

        var data = Base32Encode(_hash); // 52 chars
        Span<char> withChecks = stackalloc char[CharacterCount];
        for (var chunk = 0; chunk < 4; chunk++)
        {
            var part = data.AsSpan(chunk * ChunkLength, ChunkLength);
            part.CopyTo(withChecks[(chunk * (ChunkLength + 1))..]);
            withChecks[(chunk * (ChunkLength + 1)) + ChunkLength] = LuhnBase32(part);
        }

        var groups = new string[CharacterCount / GroupLength];
        for (var g = 0; g < groups.Length; g++)
        {
            groups[g] = new string(withChecks.Slice(g * GroupLength, GroupLength));
        }

        return string.Join('-', groups);
    }

    /// <summary>The first group only, for log lines and short displays.</summary>
    public string Short => ToString() is { Length: > 0 } s ? s[..GroupLength] : "";

    public bool Equals(NodeId other) => Hash.SequenceEqual(other.Hash);

    public override int GetHashCode() => BitConverter.ToInt32(Hash[..4]);

    /// <summary>Luhn mod N over base32 code points (the algorithm Syncthing uses for device ids).</summary>
    internal static char LuhnBase32(ReadOnlySpan<char> chunk)
    {
        const int n = 32;
        var factor = 1;
        var sum = 0;
        foreach (var c in chunk)
        {
            var codePoint = Alphabet.IndexOf(c, StringComparison.Ordinal);
            if (codePoint < 0)
            {
                throw new ArgumentException($"'{c}' is not a base32 character.", nameof(chunk));
            }

            var addend = factor * codePoint;
            factor = factor == 2 ? 1 : 2;
            sum += (addend / n) + (addend % n);
        }

        return Alphabet[(n - (sum % n)) % n];
    }

    private static string Base32Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[((bytes.Length * 8) + 4) / 5];
        int buffer = 0, bits = 0, index = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[index++] = Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            chars[index++] = Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars, 0, index);
    }

    private static byte[]? Base32Decode(ReadOnlySpan<char> chars)
    {
        var bytes = new byte[HashLength];
        int buffer = 0, bits = 0, index = 0;
        foreach (var c in chars)
        {
            buffer = (buffer << 5) | Alphabet.IndexOf(c, StringComparison.Ordinal);
            bits += 5;
            if (bits >= 8)
            {
                if (index == HashLength)
                {
                    return null;
                }

                bytes[index++] = (byte)(buffer >> (bits - 8));
                bits -= 8;
            }
        }

        // 52 chars = 260 bits = 32 bytes + 4 padding bits, which must be zero.
        return index == HashLength && (buffer & ((1 << bits) - 1)) == 0 ? bytes : null;
    }
}
