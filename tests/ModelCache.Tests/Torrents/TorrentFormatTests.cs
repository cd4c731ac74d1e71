using System.Net;
using System.Security.Cryptography;
using System.Text;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.ModelCache.Torrents;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.ModelCache.Tests.Torrents;

/// <summary>The file format side of BitTorrent: bencode, model metainfo (and its hostile cases), magnet links, the tracker.</summary>
public sealed class TorrentFormatTests
{
    private static readonly Sha256Digest Digest = Sha256Digest.Parse(new string('a', 64));

    [Fact]
    public void Bencode_RoundTrips_WithSortedKeys()
    {
        var value = new BDictionary(new Dictionary<string, BValue>
        {
            ["zeta"] = new BInteger(-42),
            ["alpha"] = new BList([new BString("x"), new BInteger(0)]),
        });

        var bytes = Bencode.Encode(value);

        Assert.Equal("d5:alphal1:xi0ee4:zetai-42ee", Encoding.ASCII.GetString(bytes));
        Assert.True(Bencode.TryDecode(bytes, out var back, out _, out _));
        Assert.Equal(bytes, Bencode.Encode(back!));
    }

    [Theory]
    [InlineData("i01e", "bad integer")]
    [InlineData("i-0e", "bad integer")]
    [InlineData("ie", "bad integer")]
    [InlineData("5:abc", "runs past the end")]
    [InlineData("d1:bi1e1:ai2ee", "unsorted")]
    [InlineData("d1:ai1e1:ai2ee", "unsorted or duplicated")]
    [InlineData("i1ei2e", "trailing bytes")]
    [InlineData("l", "unexpected end")]
    [InlineData("x", "unexpected byte")]
    [InlineData("i99999999999999999999e", "bad integer")]
    public void Bencode_RefusesMalformedInput(string text, string reason)
    {
        Assert.False(Bencode.TryDecode(Encoding.ASCII.GetBytes(text), out _, out _, out var error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void Bencode_RefusesDeepNesting()
    {
        var deep = new string('l', 40) + new string('e', 40);
        Assert.False(Bencode.TryDecode(Encoding.ASCII.GetBytes(deep), out _, out _, out var error));
        Assert.Contains("nested too deeply", error);
    }

    [Fact]
    public async Task Create_BindsNameAndSha256IntoTheInfoHash_AndHashesPiecesLikeSha1()
    {
        var content = RandomNumberGenerator.GetBytes(40_000);
        var (pieces, digest, length) = await TorrentMetainfo.HashAsync(new MemoryStream(content), 16384, null, CancellationToken.None);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), digest.Hex);
        Assert.Equal(SHA1.HashData(content.AsSpan(16384, 16384)), pieces.AsSpan(20, 20).ToArray());
        Assert.Equal(60, pieces.Length);

        var torrent = TorrentMetainfo.Create("model-a", length, 16384, pieces, digest, "http://127.0.0.1:8080/announce");

        Assert.True(torrent.IsPrivate);
        Assert.Equal(digest, torrent.Sha256);
        Assert.Equal(["http://127.0.0.1:8080/announce"], torrent.Trackers);
        // The infohash is the SHA-1 of the bencoded info dictionary, which holds the name and the digest.
        Assert.True(Bencode.TryDecode(torrent.Bytes, out var root, out var info, out _));
        Assert.Equal(Convert.ToHexStringLower(SHA1.HashData(torrent.Bytes.AsSpan()[info])), torrent.InfoHash);
        var info2 = ((BDictionary)((BDictionary)root!)["info"]!);
        Assert.Equal(digest.Hex, ((BString)info2["sha256"]!).Utf8);
        Assert.NotEqual(torrent.InfoHash, TorrentMetainfo.Create("model-b", length, 16384, pieces, digest, "http://x/announce").InfoHash);
        var other = Sha256Digest.Parse(new string('b', 64));
        Assert.NotEqual(torrent.InfoHash, TorrentMetainfo.Create("model-a", length, 16384, pieces, other, "http://x/announce").InfoHash);
        // The announce URL is outside the info dictionary: another tracker, same torrent.
        Assert.Equal(torrent.InfoHash, TorrentMetainfo.Create("model-a", length, 16384, pieces, digest, "http://y/announce").InfoHash);
    }

    public static TheoryData<string, Action<Dictionary<string, BValue>>, string> HostileInfo() => new()
    {
        { "dot-dot", i => i["name"] = new BString("../x"), "not a valid model name" },
        { "absolute", i => i["name"] = new BString("/etc/passwd"), "not a valid model name" },
        { "backslash", i => i["name"] = new BString("..\\x"), "not a valid model name" },
        { "device", i => i["name"] = new BString("COM1"), "not a valid model name" },
        { "device-ext", i => i["name"] = new BString("nul.gguf"), "not a valid model name" },
        { "empty", i => i["name"] = new BString(""), "not a valid model name" },
        { "control", i => i["name"] = new BString("a\u0001b"), "not a valid model name" },
        { "colon", i => i["name"] = new BString("c:x"), "not a valid model name" },
        { "not utf8", i => i["name"] = new BString([0xff, 0xfe]), "not UTF-8" },
        { "multi-file", i => i["files"] = new BList([]), "exactly one file" },
        { "v2 tree", i => i["file tree"] = new BDictionary(new Dictionary<string, BValue>()), "exactly one file" },
        { "uppercase digest", i => i["sha256"] = new BString(new string('A', 64)), "64 lowercase hex" },
        { "prefixed digest", i => i["sha256"] = new BString("sha256:" + new string('a', 57)), "64 lowercase hex" },
        { "short digest", i => i["sha256"] = new BString(new string('a', 63)), "64 lowercase hex" },
        { "zero length", i => i["length"] = new BInteger(0), "not positive" },
        { "odd piece", i => i["piece length"] = new BInteger(20000), "power of two" },
        { "pieces", i => i["pieces"] = new BString(new byte[21]), "piece hashes" },
        { "private 2", i => i["private"] = new BInteger(2), "private flag" },
    };

    [Theory]
    [MemberData(nameof(HostileInfo))]
    public void TryRead_RefusesHostileTorrents(string label, Action<Dictionary<string, BValue>> change, string reason)
    {
        var info = new Dictionary<string, BValue>
        {
            ["length"] = new BInteger(100),
            ["name"] = new BString("model"),
            ["piece length"] = new BInteger(16384),
            ["pieces"] = new BString(new byte[20]),
            ["private"] = new BInteger(1),
            ["sha256"] = new BString(Digest.Hex),
        };
        Assert.True(TorrentMetainfo.TryRead(Wrap(info), out _, out _), "the unchanged fixture must be accepted");

        change(info);

        Assert.False(TorrentMetainfo.TryRead(Wrap(info), out _, out var error), label);
        Assert.Contains(reason, error);
    }

    [Fact]
    public void TryRead_RefusesNonHttpTrackersAndGarbage()
    {
        var info = new Dictionary<string, BValue>
        {
            ["length"] = new BInteger(100),
            ["name"] = new BString("model"),
            ["piece length"] = new BInteger(16384),
            ["pieces"] = new BString(new byte[20]),
        };
        var udp = Bencode.Encode(new BDictionary(new Dictionary<string, BValue> { ["announce"] = new BString("file:///etc/passwd"), ["info"] = new BDictionary(info) }));
        Assert.False(TorrentMetainfo.TryRead(udp, out _, out var error));
        Assert.Contains("not an http(s) URL", error);
        Assert.False(TorrentMetainfo.TryRead("garbage"u8, out _, out error));
        Assert.Contains("not a valid torrent file", error);
        Assert.False(TorrentMetainfo.TryRead("de"u8, out _, out error));
        Assert.Contains("no info dictionary", error);
    }

    [Fact]
    public void Magnet_RoundTrips_AndRefusesBadParts()
    {
        var magnet = new MagnetLink(new string('c', 40), "tiny model", ["http://127.0.0.1:1/announce"], Digest);
        Assert.True(MagnetLink.TryParse(magnet.ToString(), out var back, out _));
        Assert.Equal(magnet.InfoHash, back.InfoHash);
        Assert.Equal("tiny model", back.DisplayName);
        Assert.Equal(magnet.Trackers, back.Trackers);
        Assert.Equal(Digest, back.Sha256);

        var hash = "xt=urn:btih:" + new string('c', 40);
        Assert.False(MagnetLink.TryParse("magnet:?" + hash + "&x.sha256=" + new string('C', 64), out _, out var error));
        Assert.Contains("64 lowercase hex", error);
        Assert.False(MagnetLink.TryParse("magnet:?" + hash + "&dn=CON", out _, out error));
        Assert.Contains("not a valid model name", error);
        Assert.False(MagnetLink.TryParse("magnet:?" + hash + "&tr=udp%3A%2F%2Fx%3A1", out _, out error));
        Assert.Contains("not an http(s) URL", error);
        Assert.False(MagnetLink.TryParse("magnet:?xt=urn:btih:" + new string('C', 40), out _, out error));
        Assert.Contains("40 lowercase hex", error);
        Assert.False(MagnetLink.TryParse("magnet:?dn=x", out _, out error));
        Assert.Contains("no xt=urn:btih: or xt=urn:btmh:", error);
        Assert.False(MagnetLink.TryParse("http://x", out _, out _));
    }

    [Fact]
    public void Tracker_AnswersOnlyKnownTorrents_WithCompactPeers_AndExpiresSilentPeers()
    {
        var time = new FakeTimeProvider();
        var tracker = new TorrentTracker(time) { Interval = TimeSpan.FromSeconds(10) };
        var hash = new string('d', 40);
        var seeder = new AnnounceRequest(hash, Id('s'), IPAddress.Parse("127.0.0.1"), 6881, "started", 50, true, 0);
        Assert.Contains("unknown torrent", Encoding.ASCII.GetString(tracker.Announce(seeder)));

        tracker.Register(hash);
        tracker.Announce(seeder);
        var answer = Decode(tracker.Announce(seeder with { PeerId = Id('p'), Port = 7000, Left = 5, Address = IPAddress.Parse("127.0.0.2") }));

        Assert.Equal(new byte[] { 127, 0, 0, 1, 0x1a, 0xe1 }, ((BString)answer["peers"]!).Bytes);
        Assert.Equal(1, ((BInteger)answer["complete"]!).Value);
        Assert.Equal(1, ((BInteger)answer["incomplete"]!).Value);
        Assert.Equal(10, ((BInteger)answer["interval"]!).Value);

        time.Advance(TimeSpan.FromSeconds(26)); // more than 2.5 intervals without an announce
        var later = Decode(tracker.Announce(seeder with { PeerId = Id('q') }));
        Assert.Empty(((BString)later["peers"]!).Bytes);

        tracker.Announce(seeder with { PeerId = Id('q'), Event = "stopped" });
        Assert.Equal(0, tracker.PeerCount(hash));
    }

    private static byte[] Id(char c) => Encoding.ASCII.GetBytes(new string(c, 20));

    private static BDictionary Decode(byte[] bytes)
    {
        Assert.True(Bencode.TryDecode(bytes, out var value, out _, out var error), error);
        return (BDictionary)value!;
    }

    private static byte[] Wrap(Dictionary<string, BValue> info) => Bencode.Encode(new BDictionary(new Dictionary<string, BValue>
    {
        ["announce"] = new BString("http://127.0.0.1:1/announce"),
        ["info"] = new BDictionary(info),
    }));
}
