using InferenceMesh.ModelCache.Torrents;

namespace InferenceMesh.ModelCache.Tests.Torrents;

public sealed class Aria2StatusTests
{
    private const long Length = 10 << 20;

    [Theory]
    [InlineData("active", Length, Length, true)] // every piece verified and flushed, aria2 not yet "complete"
    [InlineData("complete", Length, Length, true)]
    [InlineData("active", Length, Length - 1, false)] // the last piece is missing
    [InlineData("active", 0, 0, false)] // aria2 does not know the length yet
    [InlineData("active", Length + 1, Length, false)] // not the download of this torrent's file
    [InlineData("error", Length, Length, false)]
    [InlineData("removed", Length, Length, false)]
    public void HasAllBytes_OnlyWhenEveryByteOfTheAnnouncedLengthIsVerified(string state, long total, long completed, bool expected)
    {
        var status = new Aria2Status(state, total, completed, 0, 1, null);

        Assert.Equal(expected, status.HasAllBytes(Length));
        Assert.False(new Aria2Status(state, 0, 0, 0, 0, null).HasAllBytes(0));
    }
}
