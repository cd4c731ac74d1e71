using InferenceMesh.ModelCache.Torrents;

namespace InferenceMesh.ModelCache.Tests.Torrents;

public sealed class TorrentTransferStatusTests
{
    private const long Length = 10 << 20;

    [Theory]
    [InlineData(TorrentTransferState.Active, Length, Length, true)] // every piece verified and written, the engine not yet "complete"
    [InlineData(TorrentTransferState.Complete, Length, Length, true)]
    [InlineData(TorrentTransferState.Active, Length, Length - 1, false)] // the last piece is missing
    [InlineData(TorrentTransferState.Active, 0, 0, false)] // the engine does not know the length yet
    [InlineData(TorrentTransferState.Active, Length + 1, Length, false)] // not the download of this torrent's file
    [InlineData(TorrentTransferState.Failed, Length, Length, false)]
    public void HasAllBytes_OnlyWhenEveryByteOfTheAnnouncedLengthIsVerified(TorrentTransferState state, long total, long completed, bool expected)
    {
        var status = new TorrentTransferStatus(state, total, completed, 0, 1, null);

        Assert.Equal(expected, status.HasAllBytes(Length));
        Assert.False(new TorrentTransferStatus(state, 0, 0, 0, 0, null).HasAllBytes(0));
    }

    [Theory]
    [InlineData(TorrentTransferState.Active, Length + 16256, Length, true)] // qBittorrent's block-rounded count, every piece verified
    [InlineData(TorrentTransferState.Active, Length + 16256, Length - 1, false)] // the last piece not verified yet
    [InlineData(TorrentTransferState.Active, Length, 0, true)] // aria2: no verified prefix, its count is exact
    [InlineData(TorrentTransferState.Complete, 0, 0, true)]
    [InlineData(TorrentTransferState.Failed, Length, Length, false)]
    public void IsFinished_WhenTheEngineSaysSo_OrItsCountIsTheLength_OrEveryPieceIsVerified(TorrentTransferState state, long completed, long verifiedPrefix, bool expected)
    {
        var status = new TorrentTransferStatus(state, Length, completed, 0, 1, null);

        Assert.Equal(expected, status.IsFinished(Length, verifiedPrefix));
    }
}
