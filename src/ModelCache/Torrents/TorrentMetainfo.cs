using System.Security.Cryptography;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>
/// A validated single-file model torrent: BitTorrent v1 (BEP 3, SHA-1 pieces) or v2 (BEP 52: a SHA-256 merkle tree
/// over 16 KiB blocks, <c>file tree</c>, <c>meta version</c> 2, <c>piece layers</c>), with the BEP 27 private flag.
/// The info dictionary carries, besides the standard keys, <c>sha256</c> (the model file's digest, 64 lowercase hex),
/// so the infohash commits to the model's name (the info <c>name</c>) and its SHA-256. Only <see cref="TryRead"/> makes
/// one from bytes, and it refuses anything a model torrent must not be (see docs/torrents.md, "Hostile input").
/// Hybrid torrents (v1 and v2 in one info dictionary) are refused: neither engine needs them (see docs/torrents.md).
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

    /// <summary>The piece size of the v2 torrents a share makes (measured fastest with libtorrent on loopback; docs/torrents.md).</summary>
    public const int V2PieceLength = 16 << 20;

    /// <summary>The whole .torrent file.</summary>
    public required byte[] Bytes { get; init; }

    /// <summary>
    /// The hash of the bencoded info dictionary in lowercase hex: SHA-1 (40 characters) for v1, SHA-256 (64) for v2.
    /// </summary>
    public required string InfoHash { get; init; }

    /// <summary>1 (BEP 3) or 2 (BEP 52).</summary>
    public int Version { get; init; } = 1;

    /// <summary>v2: the file's merkle root (32 bytes); null for v1.</summary>
    public byte[]? PiecesRoot { get; init; }

    /// <summary>
    /// The 20-byte infohash trackers and engines key the torrent by, in hex: the v1 infohash, or a v2 infohash
    /// truncated to 20 bytes (BEP 52: what a v2 peer sends in announces and handshakes).
    /// </summary>
    public string ShortInfoHash => InfoHash[..40];

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

    /// <summary>
    /// Hashes <paramref name="content"/> once for a v2 torrent: the SHA-256 of each 16 KiB block (the merkle leaves),
    /// the piece layer and root built from them, and the SHA-256 of the whole (the model digest).
    /// </summary>
    public static async Task<(byte[] PieceLayer, byte[] PiecesRoot, Sha256Digest Digest, long Length)> HashV2Async(Stream content, int pieceLength, CancellationToken cancellationToken)
    {
        if (pieceLength < MerkleTree.BlockSize || !int.IsPow2(pieceLength))
        {
            throw new ArgumentOutOfRangeException(nameof(pieceLength), "A v2 piece is a power of two of at least 16 KiB.");
        }

        using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var blocksPerPiece = pieceLength / MerkleTree.BlockSize;
        var leaves = new byte[blocksPerPiece * MerkleTree.HashSize];
        var leafCount = 0;
        using var layer = new MemoryStream();
        var buffer = new byte[Math.Min(pieceLength, 4 << 20)];
        var filled = 0;
        long total = 0;
        long blocks = 0;
        int read;
        while ((read = await content.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false)) > 0 || filled > 0)
        {
            whole.AppendData(buffer, filled, read);
            total += read;
            filled += read;
            var atEnd = read == 0;
            var offset = 0;
            // Full blocks, and the short last block once the stream ended.
            while (filled - offset >= MerkleTree.BlockSize || (atEnd && filled - offset > 0))
            {
                var size = Math.Min(MerkleTree.BlockSize, filled - offset);
                SHA256.HashData(buffer.AsSpan(offset, size), leaves.AsSpan(leafCount * MerkleTree.HashSize, MerkleTree.HashSize));
                leafCount++;
                blocks++;
                offset += size;
                if (leafCount == blocksPerPiece)
                {
                    layer.Write(MerkleTree.Root(leaves, blocksPerPiece, MerkleTree.PadHash(0)));
                    leafCount = 0;
                }
            }

            buffer.AsSpan(offset, filled - offset).CopyTo(buffer);
            filled -= offset;
            if (atEnd)
            {
                break;
            }
        }

        if (total == 0)
        {
            throw new ArgumentException("A model torrent needs at least one byte.", nameof(content));
        }

        byte[] root;
        if (blocks <= blocksPerPiece)
        {
            // One piece: the tree is as wide as the blocks (rounded up to a power of two), and there is no piece layer.
            root = leafCount == 0 ? layer.ToArray() : MerkleTree.Root(leaves.AsSpan(0, leafCount * MerkleTree.HashSize), (int)MerkleTree.Width(blocks), MerkleTree.PadHash(0));
            return ([], root, Sha256Digest.FromBytes(whole.GetHashAndReset()), total);
        }

        if (leafCount > 0)
        {
            layer.Write(MerkleTree.Root(leaves.AsSpan(0, leafCount * MerkleTree.HashSize), blocksPerPiece, MerkleTree.PadHash(0)));
        }

        var pieceLayer = layer.ToArray();
        root = MerkleTree.RootOfLayer(pieceLayer, blocksPerPiece);
        return (pieceLayer, root, Sha256Digest.FromBytes(whole.GetHashAndReset()), total);
    }

    /// <summary>Writes a private single-file v2 metainfo (BEP 52); read back through <see cref="TryRead"/> like v1.</summary>
    public static TorrentMetainfo CreateV2(string name, long length, int pieceLength, byte[] pieceLayer, byte[] piecesRoot, Sha256Digest digest, string announce)
    {
        var file = new Dictionary<string, BValue> { ["length"] = new BInteger(length), ["pieces root"] = new BString(piecesRoot) };
        var info = new Dictionary<string, BValue>
        {
            ["file tree"] = new BDictionary(new Dictionary<string, BValue>
            {
                [name] = new BDictionary(new Dictionary<string, BValue> { [string.Empty] = new BDictionary(file) }),
            }),
            ["meta version"] = new BInteger(2),
        };
        var layers = pieceLayer.Length == 0 ? null : new BDictionary(new Dictionary<string, BValue> { [Bencode.KeyOf(piecesRoot)] = new BString(pieceLayer) });
        return Write(info, name, pieceLength, digest, announce, layers);
    }

    /// <summary>Writes a private single-file metainfo; the result is read back through <see cref="TryRead"/> so it obeys the same rules.</summary>
    public static TorrentMetainfo Create(string name, long length, int pieceLength, byte[] pieces, Sha256Digest digest, string announce)
    {
        var info = new Dictionary<string, BValue> { ["length"] = new BInteger(length), ["pieces"] = new BString(pieces) };
        return Write(info, name, pieceLength, digest, announce, null);
    }

    /// <summary>Adds the keys every model torrent has to <paramref name="info"/>, wraps it, and reads the result back.</summary>
    private static TorrentMetainfo Write(Dictionary<string, BValue> info, string name, int pieceLength, Sha256Digest digest, string announce, BDictionary? pieceLayers)
    {
        info["name"] = new BString(name);
        info["piece length"] = new BInteger(pieceLength);
        info["private"] = new BInteger(1);
        info[Sha256Key] = new BString(digest.Hex);
        var root = new Dictionary<string, BValue>
        {
            ["announce"] = new BString(announce),
            ["created by"] = new BString("inference-mesh"),
            ["info"] = new BDictionary(info),
        };
        if (pieceLayers is not null)
        {
            root["piece layers"] = pieceLayers;
        }

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

        var version = 1;
        if (info["meta version"] is { } metaVersion)
        {
            if (metaVersion is not BInteger { Value: 2 })
            {
                error = "the torrent's meta version is not 2 (BEP 52)";
                return false;
            }

            version = 2;
        }

        if (info["files"] is not null || (version == 1 && info["file tree"] is not null))
        {
            error = "the torrent has several files (or a v2 file tree without meta version 2); a model torrent has exactly one file";
            return false;
        }

        if (version == 2 && (info["pieces"] is not null || info["length"] is not null))
        {
            error = "the torrent is a v1+v2 hybrid; a model torrent is either v1 or v2";
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

        if (info["piece length"] is not BInteger { Value: >= MinPieceLength and <= MaxPieceLength } pieceLength || !long.IsPow2(pieceLength.Value))
        {
            error = $"the piece length must be a power of two from {MinPieceLength} to {MaxPieceLength}";
            return false;
        }

        long length;
        byte[]? piecesRoot = null;
        if (version == 1)
        {
            if (info["length"] is not BInteger { Value: > 0 } v1Length)
            {
                error = "the torrent's length is missing or not positive";
                return false;
            }

            length = v1Length.Value;
            var pieceCount = (length + pieceLength.Value - 1) / pieceLength.Value;
            if (info["pieces"] is not BString pieces || pieces.Bytes.Length != pieceCount * 20)
            {
                error = $"the piece hashes do not fit the length ({pieceCount} pieces of SHA-1 expected)";
                return false;
            }
        }
        else if (!TryReadFileTree(root, info, name, pieceLength.Value, out length, out piecesRoot, out error))
        {
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
            InfoHash = Convert.ToHexStringLower(version == 1 ? SHA1.HashData(bytes[infoRange]) : SHA256.HashData(bytes[infoRange])),
            Version = version,
            PiecesRoot = piecesRoot,
            Name = name,
            Length = length,
            PieceLength = (int)pieceLength.Value,
            Sha256 = digest,
            IsPrivate = isPrivate,
            Trackers = trackers.Distinct(StringComparer.Ordinal).ToList(),
        };
        error = null;
        return true;
    }

    /// <summary>
    /// The v2 file tree of a single-file torrent: exactly one entry, named like the torrent, that is a file (its only
    /// key is "") with a positive length and a 32-byte pieces root; the piece layer, when the .torrent carries it (a
    /// torrent from a peer has only the info dictionary), must hash up to that root.
    /// </summary>
    private static bool TryReadFileTree(BDictionary root, BDictionary info, string name, long pieceLength, out long length, out byte[]? piecesRoot, out string? error)
    {
        length = 0;
        piecesRoot = null;
        if (info["file tree"] is not BDictionary { Entries.Count: 1 } tree || tree[name] is not BDictionary { Entries.Count: 1 } entry
            || entry[string.Empty] is not BDictionary file)
        {
            error = "the torrent's v2 file tree is not exactly one file named like the torrent; a model torrent has exactly one file";
            return false;
        }

        if (file["length"] is not BInteger { Value: > 0 } fileLength)
        {
            error = "the torrent's length is missing or not positive";
            return false;
        }

        if (file["pieces root"] is not BString { Bytes.Length: MerkleTree.HashSize } rootHash)
        {
            error = "the torrent's pieces root is missing or not 32 bytes";
            return false;
        }

        length = fileLength.Value;
        piecesRoot = rootHash.Bytes;
        var pieceCount = (length + pieceLength - 1) / pieceLength;
        if (pieceCount > 1 && root["piece layers"] is { } layers)
        {
            if (layers is not BDictionary layerDictionary || layerDictionary[piecesRoot] is not BString layer || layer.Bytes.Length != pieceCount * MerkleTree.HashSize)
            {
                error = $"the piece layer does not fit the length ({pieceCount} pieces of SHA-256 expected)";
                return false;
            }

            if (!MerkleTree.RootOfLayer(layer.Bytes, (int)(pieceLength / MerkleTree.BlockSize)).AsSpan().SequenceEqual(piecesRoot))
            {
                error = "the piece layer does not hash to the file's pieces root";
                return false;
            }
        }

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
