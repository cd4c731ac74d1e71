using System.Text;
using InferenceMesh.Engine.Text;

namespace InferenceMesh.Engine.Tests.Text;

public class Utf8TokenAssemblerTests
{
    [Fact]
    public void Ascii_passes_through()
    {
        var assembler = new Utf8TokenAssembler();
        Assert.Equal("hello", assembler.Append("hello"u8));
        Assert.Equal(string.Empty, assembler.Flush());
    }

    [Theory]
    [InlineData("é")]
    [InlineData("€")]
    [InlineData("😀")]
    [InlineData("日本語")]
    public void A_character_split_across_tokens_is_held_back_until_complete(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        for (var cut = 1; cut < bytes.Length; cut++)
        {
            var assembler = new Utf8TokenAssembler();
            var first = assembler.Append(bytes.AsSpan(0, cut));
            var second = assembler.Append(bytes.AsSpan(cut));

            Assert.DoesNotContain('\uFFFD', first);
            Assert.False(first.Length > 0 && char.IsHighSurrogate(first[^1]), "a surrogate pair was split");
            Assert.Equal(text, first + second);
        }
    }

    [Fact]
    public void Byte_by_byte_emoji_emits_once_complete()
    {
        var assembler = new Utf8TokenAssembler();
        var bytes = Encoding.UTF8.GetBytes("a😀b");
        var pieces = bytes.Select(b => assembler.Append([b])).ToList();

        Assert.Equal(["a", "", "", "", "😀", "b"], pieces);
    }

    [Fact]
    public void Invalid_bytes_become_replacement_characters_not_lost_text()
    {
        var assembler = new Utf8TokenAssembler();
        var text = assembler.Append([0xE2, 0x82, (byte)'x', 0xFF, (byte)'y']);

        Assert.Equal("\uFFFDx\uFFFDy", text);
    }

    [Fact]
    public void An_unfinished_sequence_at_the_end_is_flushed_as_a_replacement_character()
    {
        var assembler = new Utf8TokenAssembler();
        Assert.Equal("a", assembler.Append([(byte)'a', 0xF0, 0x9F]));
        Assert.Equal("\uFFFD", assembler.Flush());
    }
}
