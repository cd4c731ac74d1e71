using System.Diagnostics;
using System.Security.Cryptography;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.ModelCache.Torrents;

namespace InferenceMesh.ModelCache.Tests.Torrents;

/// <summary>
/// BitTorrent v2 (BEP 52) torrents as a share makes them, checked against libtorrent itself (Debian's
/// python3-libtorrent, the engine inside qBittorrent): same infohash, same pieces root as libtorrent's own tree of
/// the file, and libtorrent checks the file against the torrent and seeds it. Hostile v2 torrents are refused.
/// </summary>
public sealed class TorrentV2Tests
{
    private static readonly Sha256Digest Digest = Sha256Digest.Parse(new string('a', 64));

    [Theory]
    [InlineData(100, 16 << 10)] // one short block
    [InlineData(40_000, 16 << 10)] // three blocks, three pieces, the last short
    [InlineData(64 << 10, 64 << 10)] // exactly one piece: no piece layer
    [InlineData(5_000_000, 1 << 20)] // five pieces, the last padded inside and in the layer
    [InlineData(5_000_000, 16 << 20)] // smaller than a piece: the tree is only as wide as its blocks
    public async Task A_v2_torrent_reads_in_libtorrent_with_our_infohash_and_its_own_pieces_root_and_seeds(int size, int pieceLength)
    {
        var folder = Directory.CreateTempSubdirectory("im-v2-").FullName;
        try
        {
            var content = RandomNumberGenerator.GetBytes(size);
            await File.WriteAllBytesAsync(Path.Combine(folder, "model-v2"), content);
            var (layer, root, digest, length) = await TorrentMetainfo.HashV2Async(new MemoryStream(content), pieceLength, CancellationToken.None);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), digest.Hex);
            Assert.Equal(size, length);

            var torrent = TorrentMetainfo.CreateV2("model-v2", length, pieceLength, layer, root, digest, "http://127.0.0.1:1/announce");
            Assert.Equal(2, torrent.Version);
            Assert.Equal(64, torrent.InfoHash.Length);
            Assert.StartsWith("magnet:?xt=urn:btmh:1220" + torrent.InfoHash, torrent.ToMagnet().ToString());
            var path = Path.Combine(folder, "model.torrent");
            await File.WriteAllBytesAsync(path, torrent.Bytes);

            var lines = await RunLibtorrentAsync(path, folder);

            var fields = lines[0].Split(' ');
            Assert.Equal(torrent.InfoHash, fields[0]);
            Assert.Equal(Convert.ToHexStringLower(root), fields[1]);
            Assert.Equal(pieceLength.ToString(System.Globalization.CultureInfo.InvariantCulture), fields[2]);
            Assert.Equal(Convert.ToHexStringLower(root), lines[1]); // libtorrent's own tree of the same file
            Assert.Equal("seeding", lines[2]);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<string[]> RunLibtorrentAsync(string torrent, string data)
    {
        const string Script = """
            import sys, os, time, libtorrent as lt
            ti = lt.torrent_info(sys.argv[1])
            print(str(ti.info_hashes().v2), str(ti.files().root(0)), ti.piece_length())
            fs = lt.file_storage(); lt.add_files(fs, os.path.join(sys.argv[2], ti.name()))
            ct = lt.create_torrent(fs, ti.piece_length(), flags=lt.create_torrent.v2_only)
            lt.set_piece_hashes(ct, sys.argv[2])
            print(str(lt.torrent_info(ct.generate()).files().root(0)))
            s = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False})
            h = s.add_torrent({'ti': ti, 'save_path': sys.argv[2]})
            while not h.status().is_seeding and h.status().state != lt.torrent_status.downloading:
                time.sleep(0.02)
            print('seeding' if h.status().is_seeding else 'not seeding: %s' % h.status().state)
            """;
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(torrent);
        start.ArgumentList.Add(data);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(process.ExitCode == 0, await error);
        return (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static TheoryData<string, Action<Dictionary<string, BValue>, Dictionary<string, BValue>>, string> HostileV2() => new()
    {
        { "dot-dot", (_, i) => Rename(i, "../x"), "not a valid model name" },
        { "absolute", (_, i) => Rename(i, "/etc/passwd"), "not a valid model name" },
        { "device", (_, i) => Rename(i, "nul.gguf"), "not a valid model name" },
        { "tree name differs", (_, i) => i["file tree"] = Tree("other", FileEntry(100, new byte[32])), "exactly one file named like the torrent" },
        { "tree path", (_, i) => i["file tree"] = new BDictionary(new Dictionary<string, BValue> { ["model"] = new BDictionary(new Dictionary<string, BValue> { ["sub"] = new BDictionary(new Dictionary<string, BValue> { [""] = FileEntry(100, new byte[32]) }) }) }), "exactly one file" },
        { "two files", (_, i) => i["file tree"] = new BDictionary(new Dictionary<string, BValue> { ["model"] = Entry(FileEntry(100, new byte[32])), ["more"] = Entry(FileEntry(100, new byte[32])) }), "exactly one file" },
        { "multi-file", (_, i) => i["files"] = new BList([]), "exactly one file" },
        { "hybrid", (_, i) => i["pieces"] = new BString(new byte[20]), "hybrid" },
        { "meta version 3", (_, i) => i["meta version"] = new BInteger(3), "meta version" },
        { "zero length", (_, i) => i["file tree"] = Tree("model", FileEntry(0, new byte[32])), "not positive" },
        { "short root", (_, i) => i["file tree"] = Tree("model", FileEntry(100, new byte[31])), "pieces root" },
        { "uppercase digest", (_, i) => i["sha256"] = new BString(new string('A', 64)), "64 lowercase hex" },
        { "odd piece", (_, i) => i["piece length"] = new BInteger(20000), "power of two" },
        { "private 2", (_, i) => i["private"] = new BInteger(2), "private flag" },
        { "layer too short", (r, i) => Layered(r, i, new byte[32]), "piece layer does not fit" },
        { "layer not the root's", (r, i) => Layered(r, i, new byte[64]), "does not hash to the file's pieces root" },
    };

    [Theory]
    [MemberData(nameof(HostileV2))]
    public void TryRead_RefusesHostileV2Torrents(string label, Action<Dictionary<string, BValue>, Dictionary<string, BValue>> change, string reason)
    {
        var info = new Dictionary<string, BValue>
        {
            ["file tree"] = Tree("model", FileEntry(100, new byte[32])),
            ["meta version"] = new BInteger(2),
            ["name"] = new BString("model"),
            ["piece length"] = new BInteger(16384),
            ["private"] = new BInteger(1),
            ["sha256"] = new BString(Digest.Hex),
        };
        var root = new Dictionary<string, BValue> { ["announce"] = new BString("http://127.0.0.1:1/announce") };
        root["info"] = new BDictionary(info);
        Assert.True(TorrentMetainfo.TryRead(Bencode.Encode(new BDictionary(root)), out _, out var unchanged), unchanged);

        change(root, info);
        root["info"] = new BDictionary(info);

        Assert.False(TorrentMetainfo.TryRead(Bencode.Encode(new BDictionary(root)), out _, out var error), label);
        Assert.Contains(reason, error);
    }

    [Fact]
    public async Task A_piece_layer_key_that_is_not_utf8_round_trips_through_bencode()
    {
        var content = RandomNumberGenerator.GetBytes(100_000);
        var (layer, root, digest, length) = await TorrentMetainfo.HashV2Async(new MemoryStream(content), 16 << 10, CancellationToken.None);
        var torrent = TorrentMetainfo.CreateV2("model", length, 16 << 10, layer, root, digest, "http://127.0.0.1:1/announce");

        Assert.True(Bencode.TryDecode(torrent.Bytes, out var value, out _, out _));
        Assert.Equal(torrent.Bytes, Bencode.Encode(value!));
        var layers = (BDictionary)((BDictionary)value!)["piece layers"]!;
        Assert.Equal(layer, ((BString)layers[root]!).Bytes);
    }

    [Fact]
    public void A_v2_magnet_round_trips_and_a_bad_multihash_is_refused()
    {
        var hash = new string('e', 64);
        var magnet = new MagnetLink(hash, "model", ["http://127.0.0.1:1/announce"], Digest);
        Assert.StartsWith("magnet:?xt=urn:btmh:1220" + hash + "&", magnet.ToString());
        Assert.True(MagnetLink.TryParse(magnet.ToString(), out var back, out _));
        Assert.Equal(hash, back.InfoHash);

        // A hybrid link names both: the v2 hash is the one the metadata must hash to.
        Assert.True(MagnetLink.TryParse("magnet:?xt=urn:btih:" + new string('c', 40) + "&xt=urn:btmh:1220" + hash, out var hybrid, out _));
        Assert.Equal(hash, hybrid.InfoHash);

        Assert.False(MagnetLink.TryParse("magnet:?xt=urn:btmh:1114" + hash, out _, out var error)); // SHA-1 multihash
        Assert.Contains("urn:btmh:1220", error);
        Assert.False(MagnetLink.TryParse("magnet:?xt=urn:btmh:1220" + hash.ToUpperInvariant(), out _, out error));
        Assert.Contains("64 lowercase hex", error);
        Assert.False(MagnetLink.TryParse("magnet:?xt=urn:btih:" + hash, out _, out error)); // a v2 hash is not a btih
        Assert.Contains("40 lowercase hex", error);
    }

    private static void Rename(Dictionary<string, BValue> info, string name)
    {
        info["name"] = new BString(name);
        info["file tree"] = Tree(name, FileEntry(100, new byte[32]));
    }

    private static void Layered(Dictionary<string, BValue> root, Dictionary<string, BValue> info, byte[] layer)
    {
        var piecesRoot = RandomNumberGenerator.GetBytes(32);
        info["file tree"] = Tree("model", FileEntry(40_000, piecesRoot)); // three pieces of 16 KiB
        root["piece layers"] = new BDictionary(new Dictionary<string, BValue> { [Bencode.KeyOf(piecesRoot)] = new BString(layer.Length == 64 ? new byte[96] : layer) });
    }

    private static BDictionary FileEntry(long length, byte[] piecesRoot) =>
        new(new Dictionary<string, BValue> { ["length"] = new BInteger(length), ["pieces root"] = new BString(piecesRoot) });

    private static BDictionary Entry(BDictionary file) => new(new Dictionary<string, BValue> { [""] = file });

    private static BDictionary Tree(string name, BDictionary file) => new(new Dictionary<string, BValue> { [name] = Entry(file) });
}
