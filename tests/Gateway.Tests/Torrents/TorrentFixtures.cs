using InferenceMesh.ModelCache.Torrents;

namespace InferenceMesh.Gateway.Tests.Torrents;

/// <summary>Hand-written .torrent files for hostile-input tests (through the bencode writer, not the metainfo builder).</summary>
internal static class TorrentFixtures
{
    public static byte[] SingleFile(string name, string? sha256 = null)
    {
        var info = new Dictionary<string, BValue>
        {
            ["length"] = new BInteger(100),
            ["name"] = new BString(name),
            ["piece length"] = new BInteger(16384),
            ["pieces"] = new BString(new byte[20]),
            ["private"] = new BInteger(1),
            ["sha256"] = new BString(sha256 ?? new string('a', 64)),
        };
        return Wrap(info);
    }

    public static byte[] MultiFile()
    {
        var file = new Dictionary<string, BValue> { ["length"] = new BInteger(100), ["path"] = new BList([new BString("a.gguf")]) };
        var info = new Dictionary<string, BValue>
        {
            ["files"] = new BList([new BDictionary(file), new BDictionary(file)]),
            ["name"] = new BString("multi"),
            ["piece length"] = new BInteger(16384),
            ["pieces"] = new BString(new byte[20]),
            ["sha256"] = new BString(new string('a', 64)),
        };
        return Wrap(info);
    }

    private static byte[] Wrap(Dictionary<string, BValue> info) => Bencode.Encode(new BDictionary(new Dictionary<string, BValue>
    {
        ["announce"] = new BString("http://127.0.0.1:1/announce"),
        ["info"] = new BDictionary(info),
    }));
}
