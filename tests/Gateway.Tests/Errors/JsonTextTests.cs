using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Tests.Errors;

/// <summary>Finding a string that is not text in a client's body (an unpaired surrogate escape, bytes that are not UTF-8) and naming where, and reading an upstream's leniently.</summary>
public sealed class JsonTextTests
{
    [Theory]
    [InlineData("""{"a":"x"}""", null)]
    [InlineData("""{"a":"\ud83d\ude00 a pair"}""", null)]
    [InlineData("""{"a":"\\ud800 an escaped backslash, then text"}""", null)]
    [InlineData("""{"a":"\\\ud83d\uDE00"}""", null)]
    [InlineData("""{"a":"\ud800"}""", "a")]
    [InlineData("""{"a":"\uDBFF\uDBFF"}""", "a")]
    [InlineData("""{"a":"\udc00\ud800"}""", "a")]
    [InlineData("""{"a":1,"b":[true,{"c":"x"},{"c":[null,"ok","\ude00"]}]}""", "b[2].c[2]")]
    [InlineData("""{"m":[{"x":1,"\ud800":2}]}""", "m[0]")]
    [InlineData("""{"\ud800":1}""", "")]
    [InlineData("""["a",["b","\ud800"]]""", "[1][1]")]
    [InlineData("""{"a":,"b":"\ud800"}""", null)] // malformed before it: the deserialisation reports that
    public void Finds_the_first_unpaired_surrogate_escape_and_names_where(string json, string? path)
    {
        var found = JsonText.FindUnreadableString(Encoding.UTF8.GetBytes(json));

        Assert.Equal(path, found?.Path);
        Assert.True(found is null or { Problem: UnreadableText.UnpairedSurrogate });
    }

    // Encoded as Latin-1, so "\u00e9" is the single byte 0xE9: not UTF-8 (a client that sends its body in a legacy encoding).
    [Theory]
    [InlineData("{\"a\":\"caf\u00e9\"}", "a", UnreadableText.InvalidUtf8)]
    [InlineData("{\"a\":\"ok\",\"b\":[\"x\",{\"c\":\"\u00e9t\u00e9\"}]}", "b[1].c", UnreadableText.InvalidUtf8)]
    [InlineData("{\"caf\u00e9\":1}", "", UnreadableText.InvalidUtf8)]
    [InlineData("{\"m\":[{\"r\u00f4le\":\"user\"}]}", "m[0]", UnreadableText.InvalidUtf8)]
    [InlineData("{\"a\":\"\\ud800\",\"b\":\"caf\u00e9\"}", "a", UnreadableText.UnpairedSurrogate)] // the first one found
    public void Finds_the_first_string_that_is_not_UTF_8_and_names_where(string json, string path, UnreadableText problem)
    {
        Assert.Equal((path, problem), JsonText.FindUnreadableString(Encoding.Latin1.GetBytes(json)));
    }

    [Fact]
    public void A_UTF_8_body_with_every_kind_of_character_is_text()
    {
        Assert.Null(JsonText.FindUnreadableString(Encoding.UTF8.GetBytes("{\"a\":\"caf\u00e9 \u4e2d \U0001F600 \u202e\",\"\u00e9\":[\"\\u0000\"]}")));
    }

    [Fact]
    public void Reads_an_upstream_string_with_a_lone_surrogate_as_that_unit_and_every_other_escape_as_usual()
    {
        using var document = JsonDocument.Parse("""["a\"b\\c\/d\b\f\n\r\t\u0041\u00e9 \ud83d", "\ude00", "plain"]""");
        var items = document.RootElement.EnumerateArray().Select(JsonText.GetLenient).ToList();

        Assert.Equal("a\"b\\c/d\b\f\n\r\tA\u00e9 \ud83d", items[0]);
        Assert.Equal("\U0001F600", items[0][^1..] + items[1]); // the two halves join again
        Assert.Equal("plain", items[2]);
    }
}
