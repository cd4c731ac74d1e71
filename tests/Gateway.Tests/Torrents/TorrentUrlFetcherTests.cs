using System.Net;
using InferenceMesh.Gateway.Torrents;

namespace InferenceMesh.Gateway.Tests.Torrents;

public sealed class TorrentUrlFetcherTests
{
    [Theory]
    [InlineData("169.254.169.254", true, false)] // cloud metadata: never
    [InlineData("::ffff:169.254.169.254", true, false)]
    [InlineData("fe80::1", true, false)]
    [InlineData("127.0.0.1", true, true)] // a caller on this machine may name this machine or its network
    [InlineData("10.1.2.3", true, true)]
    [InlineData("127.0.0.1", false, false)] // a caller elsewhere may not
    [InlineData("::1", false, false)]
    [InlineData("10.1.2.3", false, false)]
    [InlineData("172.16.0.1", false, false)]
    [InlineData("192.168.1.20", false, false)]
    [InlineData("100.64.0.1", false, false)]
    [InlineData("fd00::1", false, false)]
    [InlineData("0.0.0.0", false, false)]
    [InlineData("172.32.0.1", false, true)]
    [InlineData("8.8.8.8", false, true)]
    [InlineData("2001:db8::1", false, true)]
    public void Which_addresses_a_torrent_url_may_name(string address, bool callerIsLocal, bool allowed) =>
        Assert.Equal(allowed, TorrentUrlFetcher.Allowed(IPAddress.Parse(address), callerIsLocal));
}
