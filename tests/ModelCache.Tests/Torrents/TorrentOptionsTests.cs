using InferenceMesh.ModelCache.Torrents;

namespace InferenceMesh.ModelCache.Tests.Torrents;

public sealed class TorrentOptionsTests
{
    [Fact]
    public void Defaults()
    {
        var options = new TorrentOptions();
        Assert.Equal("qbittorrent", options.Engine);
        Assert.Equal("qbittorrent-nox", options.QBittorrentExecutable);
        Assert.Null(options.EngineFolder);
        Assert.Equal(0, options.PieceLength);
        Assert.Equal("aria2c", options.Aria2Executable);
        Assert.False(options.EnableDht);
        Assert.Equal(0, options.ListenPort);
        Assert.Equal(TimeSpan.FromSeconds(15), options.StartTimeout);
        Assert.Equal(TimeSpan.FromMinutes(10), options.StallTimeout);
        Assert.Equal(TimeSpan.FromMinutes(5), options.MetadataTimeout);
        Assert.True(options.SeedAfterPull);
        Assert.Equal(TimeSpan.FromSeconds(60), options.TrackerInterval);
        Assert.Null(options.Validate());
    }

    [Fact]
    public void InvalidOptions_AreNamed()
    {
        Assert.Equal("the aria2 and qbittorrent-nox executables must be named", new TorrentOptions { Aria2Executable = " " }.Validate());
        Assert.Equal("the aria2 and qbittorrent-nox executables must be named", new TorrentOptions { QBittorrentExecutable = "" }.Validate());
        Assert.Equal("the BitTorrent engine must be qbittorrent or aria2 (got 'utorrent')", new TorrentOptions { Engine = "utorrent" }.Validate());
        Assert.Equal("the piece length must be 0 or a power of two from 16384 to 67108864 (got 20000)", new TorrentOptions { PieceLength = 20000 }.Validate());
        Assert.Equal("the BitTorrent listen port must be from 0 to 65535 (got 70000)", new TorrentOptions { ListenPort = 70000 }.Validate());
        Assert.Equal("torrent timeouts and the tracker interval must be at least 1 second", new TorrentOptions { StallTimeout = TimeSpan.Zero }.Validate());
        Assert.Throws<ArgumentException>(() => new Aria2Engine(new TorrentOptions { ListenPort = -1 }, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<Aria2Engine>.Instance));
        Assert.Throws<ArgumentException>(() => new QBittorrentEngine(new TorrentOptions { ListenPort = -1 }, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<QBittorrentEngine>.Instance));
    }

    [Fact]
    public void QBittorrentPasswordHash_IsPbkdf2HmacSha512_100000Iterations_64Bytes_AfterTheBase64Salt()
    {
        // Expected value from Python's hashlib.pbkdf2_hmac("sha512", b"pass word", bytes(range(16)), 100000, 64),
        // the same parameters qBittorrent's src/base/utils/password.cpp uses.
        var salt = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();

        var stored = QBittorrentEngine.PasswordHash("pass word", salt);

        Assert.Equal("AAECAwQFBgcICQoLDA0ODw==:" + ExpectedKey, stored);
    }

    private const string ExpectedKey = "M7q0nMau8JrHo0bXTN99ZBpQf8SONC/v7IBhfcB0ZZFRSN6elDnZW4xdtSU0fOCk+JBQUpdJdt5y1HTxZRCrrQ==";
}
