using System.Net;
using System.Text;
using InferenceMesh.Gateway.Tests.Common;
using Microsoft.AspNetCore.Http;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// OpenAI-compatible upstreams (loopback stand-ins, <see cref="LoopbackOpenAiUpstream.Script"/>) whose event streams are
/// valid SSE but unusual: every variant must reach the client as the upstream's own answer, well framed, never as a
/// failover to the local model.
/// </summary>
public sealed class UpstreamStreamFramingTests
{
    private const string Id = "chatcmpl-framing-1";

    /// <summary>Multi-byte text, so a byte-by-byte write splits UTF-8 characters.</summary>
    private const string Answer = "héllo wörld 世界 🙂";

    private static string Chunk(string deltaJson, string finish = "null") =>
        $$"""{"id":"{{Id}}","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{{deltaJson}},"finish_reason":{{finish}}}]}""";

    private static readonly string[] Payloads =
    [
        Chunk("""{"role":"assistant","content":""}"""),
        Chunk("""{"content":"héllo "}"""),
        Chunk("""{"content":"wörld 世界 🙂"}"""),
        Chunk("{}", "\"stop\""),
    ];

    public static TheoryData<string> LineEndings => ["\n", "\r\n", "\r"];

    [Theory]
    [MemberData(nameof(LineEndings))]
    public async Task Every_sse_line_ending_with_comments_event_lines_bare_data_and_multi_line_data_split_at_every_byte_is_relayed(string eol)
    {
        // ": ping" comments, an event: line, "data:" without its space, a payload spread over several data lines.
        var sse = new StringBuilder();
        sse.Append(": ping").Append(eol).Append(eol);
        sse.Append("event: message").Append(eol).Append("data: ").Append(Payloads[0]).Append(eol).Append(eol);
        sse.Append("data:").Append(Payloads[1]).Append(eol).Append(": keep-alive").Append(eol).Append(eol);
        var multi = Payloads[2].Replace(",", "," + eol + "data: ", StringComparison.Ordinal);
        sse.Append("data: ").Append(multi).Append(eol).Append(eol);
        sse.Append("id: 4").Append(eol).Append("data: ").Append(Payloads[3]).Append(eol).Append(eol);
        sse.Append("data: [DONE]").Append(eol).Append(eol);

        var (harness, upstream) = await RoutingTests.StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 0 });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = (http, _) => WriteEveryByteAsync(http, Encoding.UTF8.GetBytes(sse.ToString()));

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.True(RoutingHarness.BackendOf(response) == "cloud-a", harness.Logs.All);
        var events = Sse.ParseStrict(body);
        Assert.Equal(Answer, Sse.Text(events));
        Assert.Equal("stop", Sse.FinishReason(events));
        Assert.All(events, e => Assert.Equal(Id, e.GetProperty("id").GetString()));
        Assert.Null(harness.Engine.Model.LastRequest); // the local model was never asked
        Assert.Equal(0, harness.Health.Get("cloud-a").Failures);
    }

    [Fact]
    public async Task An_azure_style_first_event_without_choices_is_dropped_and_the_stream_relayed()
    {
        const string PromptFilter = """{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}""";
        var (harness, upstream) = await RoutingTests.StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 0 });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = (http, _) => WriteEveryByteAsync(http, Encoding.UTF8.GetBytes(
            "data: " + PromptFilter + "\n\n" + string.Concat(Payloads.Select(p => "data: " + p + "\n\n")) + "data: [DONE]\n\n"));

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.True(RoutingHarness.BackendOf(response) == "cloud-a", harness.Logs.All);
        var events = Sse.ParseStrict(body);
        Assert.Equal(Answer, Sse.Text(events));
        Assert.All(events, e => Assert.Equal(Id, e.GetProperty("id").GetString())); // the filter event is not passed on
        Assert.Null(harness.Engine.Model.LastRequest);
    }

    [Fact]
    public async Task A_byte_order_mark_before_the_first_event_is_not_part_of_it()
    {
        var (harness, upstream) = await RoutingTests.StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 0 });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = (http, _) => WriteEveryByteAsync(http, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(string.Concat(Payloads.Select(p => "data: " + p + "\n\n")) + "data: [DONE]\n\n")]);

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.True(RoutingHarness.BackendOf(response) == "cloud-a", harness.Logs.All);
        Assert.Equal(Answer, Sse.Text(Sse.ParseStrict(body)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("data: {\"id\":\"trail")] // an unterminated half event after the finish chunk
    public async Task A_stream_that_ends_cleanly_after_its_finish_reason_without_done_is_complete_not_broken(string tail)
    {
        var (harness, upstream) = await RoutingTests.StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 0 });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = async (http, _) =>
        {
            http.Response.ContentType = "text/event-stream";
            await http.Response.WriteAsync(string.Concat(Payloads.Select(p => "data: " + p + "\n\n")) + tail);
        };

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.True(RoutingHarness.BackendOf(response) == "cloud-a", harness.Logs.All);
        var events = Sse.ParseStrict(body); // ends with the [DONE] the upstream left out
        Assert.Equal(Answer, Sse.Text(events));
        Assert.Equal("stop", Sse.FinishReason(events));
        Assert.Null(harness.Engine.Model.LastRequest); // nothing was continued locally
        Assert.Equal(0, harness.Health.Get("cloud-a").Failures); // not a cut stream: the circuit must not count it
    }

    /// <summary>Writes <paramref name="bytes"/> one byte per write and flush: every event is split at every position.</summary>
    internal static async Task WriteEveryByteAsync(HttpContext http, byte[] bytes)
    {
        http.Response.ContentType = "text/event-stream";
        await http.Response.StartAsync();
        for (var i = 0; i < bytes.Length; i++)
        {
            await http.Response.Body.WriteAsync(bytes.AsMemory(i, 1));
            await http.Response.Body.FlushAsync();
        }
    }
}
