using InferenceMesh.ModelCache.Torrents;

namespace InferenceMesh.ModelCache.Tests.Torrents;

public sealed class TorrentOptionsTests
{
    [Fact]
    public void Defaults()
    {
        var options = new TorrentOptions();
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
        Assert.Equal("the aria2 executable must be named", new TorrentOptions { Aria2Executable = " " }.Validate());
        Assert.Equal("the BitTorrent listen port must be from 0 to 65535 (got 70000)", new TorrentOptions { ListenPort = 70000 }.Validate());
        Assert.Equal("torrent timeouts and the tracker interval must be at least 1 second", new TorrentOptions { StallTimeout = TimeSpan.Zero }.Validate());
        Assert.Throws<ArgumentException>(() => new Aria2Engine(new TorrentOptions { ListenPort = -1 }, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<Aria2Engine>.Instance));
    }
}
