using System.Net;
using System.Net.Sockets;
using System.Text;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Errors;

/// <summary>
/// Requests Kestrel refuses while parsing the request line or the headers, before any middleware runs, get Kestrel's own
/// bare answer (status line, <c>Content-Length: 0</c>, <c>Connection: close</c>, no body) instead of our error shape:
/// Kestrel has no hook to write that answer (src/Gateway/README.md, "Before the gateway runs"). Pinned, so that a change
/// of Kestrel's behaviour is noticed; the gateway keeps serving. Raw sockets: HttpClient would not send these requests.
/// </summary>
public sealed class KestrelRejectionTests(KestrelRejectionTests.Gateway gateway) : IClassFixture<KestrelRejectionTests.Gateway>
{
    private const string Host = "Host: 127.0.0.1\r\n";

    [Theory]
    [InlineData("GET /v1/models%00 HTTP/1.1\r\n" + Host + "\r\n", "400 Bad Request")]
    [InlineData("POST /v1/chat/completions%00 HTTP/1.1\r\n" + Host + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", "400 Bad Request")]
    [InlineData("GET /v1/models\u00FF HTTP/1.1\r\n" + Host + "\r\n", "400 Bad Request")]
    [InlineData("GET v1/models HTTP/1.1\r\n" + Host + "\r\n", "400 Bad Request")]
    [InlineData("GET /v1/models HTTP/1.1\r\n\r\n", "400 Bad Request")]
    [InlineData("GET /v1/models HTTP/1.1\r\n" + Host + "X-Note: a\0b\r\n\r\n", "400 Bad Request")]
    [InlineData("POST /v1/chat/completions HTTP/1.1\r\n" + Host + "Content-Length: two\r\n\r\n", "400 Bad Request")]
    [InlineData("GET /v1/models HTTP/1.2\r\n" + Host + "\r\n", "505 HTTP Version Not Supported")]
    public async Task A_request_kestrel_refuses_while_parsing_gets_its_bare_answer_and_the_gateway_keeps_serving(string request, string status)
    {
        var answer = await SendRawAsync(request);

        var endOfHead = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(endOfHead > 0, answer);
        var lines = answer[..endOfHead].Split("\r\n");
        Assert.Equal("HTTP/1.1 " + status, lines[0]);
        Assert.Contains("Content-Length: 0", lines);
        Assert.Contains("Connection: close", lines);
        Assert.Equal("", answer[(endOfHead + 4)..]); // no error shape, and no stack trace
        using var next = await gateway.Environment.Http.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task A_NUL_escape_in_the_query_reaches_the_gateway()
    {
        var answer = await SendRawAsync("GET /v1/models?x=%00 HTTP/1.1\r\n" + Host + "Connection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("\"object\":\"list\"", answer, StringComparison.Ordinal);
    }

    /// <summary>Sends <paramref name="request"/> byte for byte (Latin-1: U+00FF is the byte 0xFF) and reads until the gateway closes the connection.</summary>
    private async Task<string> SendRawAsync(string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, gateway.Environment.BaseAddress.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var received = new MemoryStream();
        // Bounded: a connection left open is a failure here, not a hang.
        using var closed = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await stream.CopyToAsync(received, closed.Token);
        return Encoding.Latin1.GetString(received.ToArray());
    }

    public sealed class Gateway : IAsyncLifetime
    {
        internal TestEnvironment Environment { get; private set; } = null!;

        public async Task InitializeAsync() => Environment = await TestEnvironment.StartAsync();

        public async Task DisposeAsync() => await Environment.DisposeAsync();
    }
}
