using System.Security.Cryptography;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>
/// A validated single-file model torrent (BitTorrent v1 metainfo, BEP 3 + BEP 27 private flag). The info dictionary
/// carries, besides the standard keys, <c>sha256</c> (the model file's digest, 64 lowercase hex), so the infohash
/// commits to the model's name (the info <c>name</c>) and its SHA-256. Only <see cref="TryRead"/> makes one from bytes,
/// and it refuses anything a model torrent must not be (see docs/torrents.md, "Hostile input").
/// </summary>
public sealed record TorrentMetainfo
{
    /// <summary>The info-dictionary key of the model's SHA-256.</summary>
    public const string Sha256Key = "sha256";

    /// <summary>The largest .torrent file accepted (a 1 TiB model at 4 MiB pieces needs about 5 MiB of hashes).</summary>
    public const int MaxTorrentBytes = 16 << 20;

    /// <summary>Piece sizes accepted (powers of two), as BEP 52 requires and every engine handles.</summary>
    public const int MinPieceLength = 16 << 10;

    public const int MaxPieceLength = 64 << 20;

    /// <summary>The whole .torrent file.</summary>
    public required byte[] Bytes { get; init; }

    /// <summary>SHA-1 of the bencoded info dictionary, 40 lowercase hex.</summary>
    public required string InfoHash { get; init; }

    /// <summary>The info <c>name</c>: the model name, also the file name inside the engine's download folder.</summary>
    public required string Name { get; init; }

    public required long Length { get; init; }

    public required int PieceLength { get; init; }

    /// <summary>The model's SHA-256 from the info dictionary; null for a plain torrent that does not carry it.</summary>
    public Sha256Digest? Sha256 { get; init; }

    public bool IsPrivate { get; init; }

    /// <summary>The announce URLs (announce, then announce-list), http(s) only.</summary>
    public IReadOnlyList<string> Trackers { get; init; } = [];

    /// <summary>The piece size for a file: about 1000-2000 pieces, within 256 KiB..16 MiB.</summary>
    public static int ChoosePieceLength(long length)
    {
        var piece = 256 << 10;
        while (piece < (16 << 20) && length / piece > 2000)
        {
            piece <<= 1;
        }

        return piece;
    }

    /// <summary>
    /// Hashes <paramref name="content"/> once: SHA-1 per piece (the v1 pieces) and SHA-256 of the whole (the model
    /// digest), so a share never trusts a blob it did not just read.
    /// </summary>
    public static async Task<(byte[] Pieces, Sha256Digest Digest, long Length)> HashAsync(Stream content, int pieceLength, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var piece = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        using var pieces = new MemoryStream();
        var buffer = new byte[Math.Max(pieceLength, 1 << 20)];
        long total = 0;
        var inPiece = 0;
        int read;
        while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            whole.AppendData(buffer, 0, read);
            var offset = 0;
            while (offset < read)
            {
                var take = Math.Min(read - offset, pieceLength - inPiece);
                piece.AppendData(buffer, offset, take);
                inPiece += take;
                offset += take;
                if (inPiece == pieceLength)
                {
                    pieces.Write(piece.GetHashAndReset());
                    inPiece = 0;
                }
            }

            total += read;
            progress?.Report(total);
        }

        if (inPiece > 0)
        {
            pieces.Write(piece.GetHashAndReset());
        }

        return (pieces.ToArray(), Sha256Digest.FromBytes(whole.GetHashAndReset()), total);
    }

    /// <summary>Writes a private single-file metainfo; the result is read back through <see cref="TryRead"/> so it obeys the same rules.</summary>
    public static TorrentMetainfo Create(string name, long length, int pieceLength, byte[] pieces, Sha256Digest digest, string announce)
    {
        var info = new Dictionary<string, BValue>
        {
            ["length"] = new BInteger(length),
            ["name"] = new BString(name),
            ["piece length"] = new BInteger(pieceLength),
            ["pieces"] = new BString(pieces),
            ["private"] = new BInteger(1),
            [Sha256Key] = new BString(digest.Hex),
        };
        var root = new Dictionary<string, BValue>
        {
            ["announce"] = new BString(announce),
            ["created by"] = new BString("inference-mesh"),
            ["info"] = new BDictionary(info),
        };
        var bytes = Bencode.Encode(new BDictionary(root));
        return TryRead(bytes, out var meta, out var error) ? meta : throw new InvalidOperationException($"A torrent we wrote does not read back: {error}");
    }

    /// <summary>Validates a .torrent file; null error when it is an acceptable single-file model torrent.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TorrentMetainfo? metainfo, out string? error)
    {
        metainfo = null;
        if (bytes.Length > MaxTorrentBytes)
        {
            error = $"the torrent is larger than {MaxTorrentBytes} bytes";
            return false;
        }

        if (!Bencode.TryDecode(bytes, out var value, out var infoRange, out var decodeError))
        {
            error = $"not a valid torrent file: {decodeError}";
            return false;
        }

        if (value is not BDictionary root || root["info"] is not BDictionary info)
        {
            error = "not a torrent file: no info dictionary";
            return false;
        }

        if (info["files"] is not null || info["file tree"] is not null || info["meta version"] is not null)
        {
            error = "the torrent has several files (or a v2 file tree); a model torrent has exactly one file";
            return false;
        }

        if (info["name"] is not BString { Utf8: { } name })
        {
            error = "the torrent's name is missing or not UTF-8";
            return false;
        }

        if (ModelName.Validate(name) is { } nameError || Path.IsPathRooted(name) || name.Contains("..", StringComparison.Ordinal))
        {
            error = $"the torrent's file name is not a valid model name: {ModelName.Validate(name) ?? "it is a path"}";
            return false;
        }

        if (info["length"] is not BInteger { Value: > 0 } length)
        {
            error = "the torrent's length is missing or not positive";
            return false;
        }

        if (info["piece length"] is not BInteger { Value: >= MinPieceLength and <= MaxPieceLength } pieceLength || !long.IsPow2(pieceLength.Value))
        {
            error = $"the piece length must be a power of two from {MinPieceLength} to {MaxPieceLength}";
            return false;
        }

        var pieceCount = (length.Value + pieceLength.Value - 1) / pieceLength.Value;
        if (info["pieces"] is not BString pieces || pieces.Bytes.Length != pieceCount * 20)
        {
            error = $"the piece hashes do not fit the length ({pieceCount} pieces of SHA-1 expected)";
            return false;
        }

        Sha256Digest? digest = null;
        if (info[Sha256Key] is { } shaValue)
        {
            if (shaValue is not BString { Utf8: { } hex } || !Sha256Digest.TryParse(hex, out var parsed))
            {
                error = "the torrent's sha256 is not exactly 64 lowercase hex characters";
                return false;
            }

            digest = parsed;
        }

        var isPrivate = info["private"] is BInteger { Value: 1 };
        if (info["private"] is { } p && p is not BInteger { Value: 0 or 1 })
        {
            error = "the torrent's private flag is not 0 or 1";
            return false;
        }

        var trackers = new List<string>();
        if (root["announce"] is BString { Utf8: { } announce })
        {
            trackers.Add(announce);
        }

        if (root["announce-list"] is BList tiers)
        {
            trackers.AddRange(tiers.Items.OfType<BList>().SelectMany(t => t.Items).OfType<BString>().Select(s => s.Utf8).OfType<string>());
        }

        if (trackers.FirstOrDefault(t => !IsHttpUrl(t)) is { } badTracker)
        {
            error = $"tracker '{Printable(badTracker)}' is not an http(s) URL";
            return false;
        }

        metainfo = new TorrentMetainfo
        {
            Bytes = bytes.ToArray(),
            InfoHash = Convert.ToHexStringLower(SHA1.HashData(bytes[infoRange])),
            Name = name,
            Length = length.Value,
            PieceLength = (int)pieceLength.Value,
            Sha256 = digest,
            IsPrivate = isPrivate,
            Trackers = trackers.Distinct(StringComparer.Ordinal).ToList(),
        };
        error = null;
        return true;
    }

    /// <summary>A magnet link for this torrent (see <see cref="MagnetLink"/>).</summary>
    public MagnetLink ToMagnet() => new(InfoHash, Name, Trackers, Sha256);

    internal static bool IsHttpUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    internal static string Printable(string text) =>
        string.Concat(text.Take(200).Select(c => char.IsControl(c) ? '?' : c));
}
