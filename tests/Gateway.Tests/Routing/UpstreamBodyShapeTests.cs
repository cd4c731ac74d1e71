using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using Microsoft.AspNetCore.Http;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// OpenAI-compatible upstreams (loopback stand-ins, <see cref="LoopbackOpenAiUpstream.Script"/>) that answer correctly
/// in an unexpected body: compressed although nothing asked for it (a proxy in front), or a whole completion to a
/// streamed request. The answer is the upstream's, not a failover to the local model.
/// </summary>
public sealed class UpstreamBodyShapeTests
{
    private const string Completion =
        """{"id":"chatcmpl-whole-1","object":"chat.completion","created":1700000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"whole answer"},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}""";

    private const string StreamBody =
        "data: {\"id\":\"chatcmpl-gz\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n" +
        "data: {\"id\":\"chatcmpl-gz\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"squeezed\"},\"finish_reason\":null}]}\n\n" +
        "data: {\"id\":\"chatcmpl-gz\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
        "data: [DONE]\n\n";

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    [InlineData("deflate")]
    public async Task A_compressed_answer_is_decoded_streamed_or_not(string encoding)
    {
        var (harness, upstream) = await RoutingTests.StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 0 });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = (http, stream) => WriteAsync(http, stream ? "text/event-stream" : "application/json", Compress(stream ? StreamBody : Completion, encoding), encoding);

        var (json, jsonBody) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));
        var (sse, sseBody) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(json.StatusCode == HttpStatusCode.OK, jsonBody);
        Assert.True(RoutingHarness.BackendOf(json) == "cloud-a", harness.Logs.All);
        Assert.Empty(json.Content.Headers.ContentEncoding); // the client gets it decoded, as it asked for nothing else
        using (var document = JsonDocument.Parse(jsonBody))
        {
            Assert.Equal("whole answer", document.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        }

        Assert.True(RoutingHarness.BackendOf(sse) == "cloud-a", harness.Logs.All);
        Assert.Empty(sse.Content.Headers.ContentEncoding);
        Assert.Equal("squeezed", Sse.Text(Sse.ParseStrict(sseBody)));
        Assert.Null(harness.Engine.Model.LastRequest);
    }

    [Fact]
    public async Task An_encoding_the_gateway_cannot_decode_fails_over()
    {
        var (harness, upstream) = await RoutingTests.StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 0 });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = (http, stream) => WriteAsync(http, stream ? "text/event-stream" : "application/json", Encoding.UTF8.GetBytes(stream ? StreamBody : Completion), "zstd");

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
    }

    [Fact]
    public async Task A_whole_completion_answering_a_streamed_request_reaches_the_client_as_chunks()
    {
        var (harness, upstream) = await RoutingTests.StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 0 });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = (http, _) => WriteAsync(http, "application/json", Encoding.UTF8.GetBytes(Completion), null);

        var request = RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true);
        var (response, body) = await harness.SendAsync(request);

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.True(RoutingHarness.BackendOf(response) == "cloud-a", harness.Logs.All);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = Sse.ParseStrict(body);
        Assert.Equal("whole answer", Sse.Text(events));
        Assert.Equal("length", Sse.FinishReason(events));
        Assert.All(events, e => Assert.Equal("chatcmpl-whole-1", e.GetProperty("id").GetString()));
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
        Assert.Equal(7, events[^1].GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Null(harness.Engine.Model.LastRequest);
        Assert.Equal(0, harness.Health.Get("cloud-a").Failures);
    }

    [Fact]
    public async Task A_json_error_body_with_200_answering_a_streamed_request_still_fails_over()
    {
        var (harness, upstream) = await RoutingTests.StartAsync(h => h.Options = h.Options with { MaxRetryAttempts = 0 });
        await using var _ = harness;
        await using var __ = upstream;
        upstream.Script = (http, _) => WriteAsync(http, "application/json", Encoding.UTF8.GetBytes("""{"error":{"message":"upstream says: no","type":"server_error"}}"""), null);

        var (response, body) = await harness.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true));

        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.DoesNotContain("upstream says", body);
    }

    internal static byte[] Compress(string text, string encoding)
    {
        using var output = new MemoryStream();
        using (Stream compressor = encoding switch
        {
            "gzip" => new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true),
            "br" => new BrotliStream(output, CompressionLevel.Fastest, leaveOpen: true),
            _ => new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true),
        })
        {
            compressor.Write(Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }

    private static async Task WriteAsync(HttpContext http, string contentType, byte[] body, string? encoding)
    {
        http.Response.ContentType = contentType;
        if (encoding is not null)
        {
            http.Response.Headers.ContentEncoding = encoding;
        }

        await http.Response.Body.WriteAsync(body);
    }
}
