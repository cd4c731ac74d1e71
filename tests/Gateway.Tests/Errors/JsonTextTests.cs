using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Tests.Errors;

/// <summary>Finding an unpaired surrogate escape in a client's body (and naming where), and reading an upstream's leniently.</summary>
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
        Assert.Equal(path, JsonText.FindUnpairedSurrogate(Encoding.UTF8.GetBytes(json)));
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
