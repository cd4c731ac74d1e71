using System.Net;
using System.Text;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Inference;

/// <summary>How the OpenAI endpoints read a client's body bytes.</summary>
public sealed class RequestBodyTests
{
    // A file saved as "UTF-8 with BOM" and sent with curl --data-binary @file: RFC 8259 lets a parser ignore the mark.
    [Theory]
    [InlineData("/v1/chat/completions", """{"model":"stories260K","messages":[{"role":"user","content":"Once"}],"max_tokens":2}""")]
    [InlineData("/v1/completions", """{"model":"stories260K","prompt":"Once","max_tokens":2}""")]
    [InlineData("/v1/embeddings", """{"model":"stories260K","input":"Once"}""")]
    [InlineData("/v1/route", """{"model":"auto","messages":[{"role":"user","content":"Once"}]}""")]
    public async Task A_body_starting_with_a_UTF_8_byte_order_mark_is_read(string path, string json)
    {
        await using var environment = await TestEnvironment.StartAsync();
        using var content = new ByteArrayContent([0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(json)]);
        content.Headers.ContentType = new("application/json");

        using var response = await environment.Http.PostAsync(path, content);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
    }
}
