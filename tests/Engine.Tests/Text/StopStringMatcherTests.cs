using InferenceMesh.Engine.Text;

namespace InferenceMesh.Engine.Tests.Text;

public class StopStringMatcherTests
{
    [Fact]
    public void Without_stops_text_passes_through()
    {
        var matcher = new StopStringMatcher([]);
        Assert.Equal("abc", matcher.Push("abc", out var stopped));
        Assert.False(stopped);
    }

    [Fact]
    public void A_stop_string_spanning_pieces_is_found_and_never_emitted()
    {
        var matcher = new StopStringMatcher(["END"]);
        var emitted = matcher.Push("hello E", out var s1)
            + matcher.Push("N", out var s2)
            + matcher.Push("D and more", out var s3);

        Assert.False(s1);
        Assert.False(s2);
        Assert.True(s3);
        Assert.Equal("hello ", emitted);
    }

    [Fact]
    public void A_partial_match_that_does_not_complete_is_released()
    {
        var matcher = new StopStringMatcher(["END"]);
        var emitted = matcher.Push("an E", out _) + matcher.Push("NVOY", out var stopped);

        Assert.False(stopped);
        Assert.Equal("an ENVOY", emitted + matcher.Flush());
    }

    [Fact]
    public void Held_text_is_returned_by_flush_at_the_end()
    {
        var matcher = new StopStringMatcher(["\n\n"]);
        Assert.Equal("line", matcher.Push("line\n", out _));
        Assert.Equal("\n", matcher.Flush());
    }

    [Fact]
    public void The_earliest_of_several_stops_wins()
    {
        var matcher = new StopStringMatcher(["world", "lo w"]);
        Assert.Equal("hel", matcher.Push("hello world", out var stopped));
        Assert.True(stopped);
    }
}
