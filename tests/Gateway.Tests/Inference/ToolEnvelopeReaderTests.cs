using System.Text;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Inference;

namespace InferenceMesh.Gateway.Tests.Inference;

/// <summary>
/// The incremental reader of the local tool envelope, fed the same text cut at every point (in two pieces, in three,
/// one character at a time): what it gives out must always add up to what a whole-text JSON parse reads, and no piece
/// it gives out may hold half a surrogate pair.
/// </summary>
public sealed class ToolEnvelopeReaderTests
{
    // Escapes of every kind, \u escapes of a surrogate pair, raw multi-byte text (two-, three- and four-byte UTF-8) and a raw pair.
    private const string Response = """{ "response" : "line\nbreak \"quoted\" back\\slash \/ \t\b\f\r \u00e9\u4E2D \ud83d\ude00 raw é 中 😀 end\\" }""";

    private const string Calls = """
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Pa\"ris}]", "nested": {"a": [1, -2.5e3, true, null, {}]},
         "s": "\ud83d\ude00 😀 \\", "e": ""}},
        {"name":"t_2","arguments":{}}, {"name": "n", "arguments": 12}]}
        """;

    public static TheoryData<string> Envelopes => new() { Response, Calls };

    [Theory]
    [MemberData(nameof(Envelopes))]
    public void Every_split_in_two_or_three_gives_what_a_whole_parse_reads(string envelope)
    {
        var expected = Whole(envelope);
        for (var i = 0; i <= envelope.Length; i++)
        {
            Check(expected, [envelope[..i], envelope[i..]]);
            for (var j = i; j <= envelope.Length; j += 7)
            {
                Check(expected, [envelope[..i], envelope[i..j], envelope[j..]]);
            }
        }

        Check(expected, [.. envelope.Select(c => c.ToString())]);
    }

    [Fact]
    public void Content_streams_as_it_is_read_not_at_the_end()
    {
        var reader = new ToolEnvelopeReader();

        var events = Pieces(reader, """{"response": "Once up""", "on a \\", "n", "\"}");

        Assert.Equal([[new(ToolEnvelopeEventKind.Content, 0, "Once up")], [new(ToolEnvelopeEventKind.Content, 0, "on a ")], [new(ToolEnvelopeEventKind.Content, 0, "\n")], []], events);
        Assert.True(reader.Completed);
    }

    [Fact]
    public void A_call_starts_with_its_name_then_its_arguments_come_as_written()
    {
        var reader = new ToolEnvelopeReader();

        var events = Pieces(reader, """{"tool_calls":[{"name":"f","argu""", """ments": {"a" """, """: 1}}, {"name": "g", "arguments": {}}]}""");

        Assert.Equal(
            [
                [new(ToolEnvelopeEventKind.CallStarted, 0, "f")],
                [new(ToolEnvelopeEventKind.Arguments, 0, """{"a" """)],
                [new(ToolEnvelopeEventKind.Arguments, 0, ": 1}"), new(ToolEnvelopeEventKind.CallStarted, 1, "g"), new(ToolEnvelopeEventKind.Arguments, 1, "{}")],
            ],
            events);
        Assert.True(reader.Completed);
    }

    [Fact]
    public void Arguments_before_the_name_wait_for_it()
    {
        var reader = new ToolEnvelopeReader();
        var events = new List<ToolEnvelopeEvent>();

        reader.Append("""{"tool_calls":[{"arguments":{"x":[1]},"name":"f"}]}""", events);

        Assert.Equal([new(ToolEnvelopeEventKind.CallStarted, 0, "f"), new(ToolEnvelopeEventKind.Arguments, 0, """{"x":[1]}""")], events);
    }

    [Theory]
    [InlineData("""{"response":"a\ud800b"}""", "a\uFFFDb")]
    [InlineData("""{"response":"a\udc00b"}""", "a\uFFFDb")]
    [InlineData("""{"response":"a\ud800"}""", "a\uFFFD")]
    [InlineData("""{"response":"\ud800\ud83d\ude00"}""", "\uFFFD😀")]
    public void A_lone_surrogate_escape_becomes_a_replacement_character(string envelope, string content)
    {
        // A whole-text JSON parse throws on these (GetString); the grammar allows any \uXXXX, so the model may write them.
        var answer = LocalTools.Read(envelope);

        Assert.Equal(content, answer.Content);
        Assert.True(answer.Complete);
    }

    [Theory]
    [InlineData("""{"tool_calls":[{"name":"f","arguments":{"a":"x""", null, "f", """{"a":"x""")]
    [InlineData("""{"tool_calls":[{"name":"f","arguments":{"a":1}},{"name":"g",""", null, "g", "")]
    [InlineData("""{"tool_calls":[{"name":"get_w""", "", null, null)]
    [InlineData("""{"response":"ab\u00""", "ab", null, null)]
    [InlineData("""{"tool_ca""", "", null, null)]
    [InlineData("", "", null, null)]
    public void A_cut_envelope_gives_what_it_held_so_far(string text, string? content, string? lastCall, string? lastArguments)
    {
        var answer = LocalTools.Read(text);

        Assert.False(answer.Complete);
        Assert.Equal(content, answer.Content);
        Assert.Equal(lastCall, answer.Calls?[^1].Name);
        Assert.Equal(lastArguments, answer.Calls?[^1].Arguments);
        Assert.Equal("length", answer.FinishReason(FinishReason.Length));
    }

    [Theory]
    [InlineData("Once upon a time")]
    [InlineData("[1, 2]")]
    [InlineData("""{"response": x}""")]
    public void Text_that_is_no_envelope_comes_as_it_is(string text)
    {
        var answer = LocalTools.Read(text);

        Assert.Equal(text, answer.Content);
        Assert.Null(answer.Calls);
    }

    [Fact]
    public void Only_a_whole_envelope_of_calls_finishes_with_tool_calls()
    {
        Assert.Equal("tool_calls", LocalTools.Read("""{"tool_calls":[{"name":"f","arguments":{}}]}""").FinishReason(FinishReason.Stop));
        Assert.Equal("tool_calls", LocalTools.Read("""{"tool_calls":[{"name":"f","arguments":{}}]}""").FinishReason(FinishReason.Length));
        Assert.Equal("stop", LocalTools.Read("""{"response":"hi"}""").FinishReason(FinishReason.Stop));
    }

    [Fact]
    public void Stop_strings_never_apply_inside_the_envelope_or_a_call()
    {
        // Each of these is in the envelope's JSON: matched on the model's raw text, they cut the call (was: no call at all).
        string[] stops = ["\"", "{", "name", "arguments", "Paris", "get_weather"];

        var answer = LocalTools.Read("""{"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]}""", stops);

        Assert.Equal([("get_weather", """{"city":"Paris"}""")], answer.Calls!);
        Assert.False(answer.Stopped);
        Assert.Equal("tool_calls", answer.FinishReason(FinishReason.Stop));
    }

    [Fact]
    public void A_stop_string_ends_the_response_text_before_it_wherever_the_pieces_are_cut()
    {
        // Matched on the decoded text: "\n" is the escape the model writes for the newline the stop string holds.
        const string envelope = """{"response": "Tom ran home.\nThen he \"slept\"."}""";
        for (var i = 0; i <= envelope.Length; i++)
        {
            var reader = new ToolEnvelopeReader(["\n", "zzz"]);
            var content = new StringBuilder();
            foreach (var piece in new[] { envelope[..i], envelope[i..] })
            {
                var events = new List<ToolEnvelopeEvent>();
                reader.Append(piece, events);
                content.Append(string.Concat(events.Select(e => e.Text)));
            }

            Assert.True(reader.Stopped, $"cut at {i}");
            Assert.Equal("Tom ran home.", content.ToString());
            Assert.Equal(new LocalTools.Answer("Tom ran home.", null, reader.Completed, Stopped: true), reader.Answer());
            Assert.Equal("stop", reader.Answer().FinishReason(FinishReason.Length)); // the stop string, even at the token limit
        }
    }

    [Fact]
    public void Text_that_might_begin_a_stop_string_waits_until_it_cannot()
    {
        var reader = new ToolEnvelopeReader(["hen he sat"]);

        var events = Pieces(reader, """{"response": "Then""", """ he s""", """lept"}""");

        // "hen" and "hen he s" could have begun the stop string; the closing quote ends the text, which then goes out whole.
        Assert.Equal([[new(ToolEnvelopeEventKind.Content, 0, "T")], [], [new(ToolEnvelopeEventKind.Content, 0, "hen he slept")]], events);
        Assert.False(reader.Stopped);

        // Cut (max_tokens) inside what could still begin one: the end of the generation gives it out.
        var cut = new ToolEnvelopeReader(["hen he sat"]);
        var held = new List<ToolEnvelopeEvent>();
        cut.Append("""{"response": "Then he""", held);
        Assert.Equal([new(ToolEnvelopeEventKind.Content, 0, "T")], held);
        held.Clear();
        cut.Finish(held);
        Assert.Equal([new(ToolEnvelopeEventKind.Content, 0, "hen he")], held);
        Assert.Equal(("Then he", "length"), (cut.Answer().Content, cut.Answer().FinishReason(FinishReason.Length)));
    }

    private static List<List<ToolEnvelopeEvent>> Pieces(ToolEnvelopeReader reader, params string[] pieces) =>
        [.. pieces.Select(piece =>
        {
            var events = new List<ToolEnvelopeEvent>();
            reader.Append(piece, events);
            return events;
        })];

    private sealed record Read(string Content, List<(string Name, string Arguments)> Calls);

    /// <summary>What a whole-text parse reads (the reference).</summary>
    private static Read Whole(string envelope)
    {
        using var document = JsonDocument.Parse(envelope);
        var root = document.RootElement;
        return root.TryGetProperty("response", out var response)
            ? new Read(response.GetString()!, [])
            : new Read(string.Empty, [.. root.GetProperty("tool_calls").EnumerateArray().Select(c => (c.GetProperty("name").GetString()!, c.GetProperty("arguments").GetRawText()))]);
    }

    private static void Check(Read expected, string[] pieces)
    {
        var reader = new ToolEnvelopeReader();
        var content = new StringBuilder();
        var calls = new List<(string Name, StringBuilder Arguments)>();
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (var piece in pieces)
        {
            var events = new List<ToolEnvelopeEvent>();
            reader.Append(piece, events);
            foreach (var (kind, index, text) in events)
            {
                strict.GetByteCount(text); // throws on half a surrogate pair
                switch (kind)
                {
                    case ToolEnvelopeEventKind.Content:
                        content.Append(text);
                        break;
                    case ToolEnvelopeEventKind.CallStarted:
                        Assert.Equal(calls.Count, index);
                        calls.Add((text, new StringBuilder()));
                        break;
                    case ToolEnvelopeEventKind.Arguments:
                        Assert.True(index < calls.Count, "arguments before their call started");
                        Assert.NotEmpty(text);
                        calls[index].Arguments.Append(text);
                        break;
                }
            }
        }

        var split = string.Join(" | ", pieces.Select(p => p.Length));
        Assert.True(reader.Completed, split);
        Assert.False(reader.Malformed, split);
        Assert.Equal(expected.Content, content.ToString());
        Assert.Equal(expected.Calls, calls.Select(c => (c.Name, c.Arguments.ToString())));
        Assert.Equal(expected.Content, reader.Content);
        Assert.Equal(expected.Calls, reader.Calls);
    }
}
