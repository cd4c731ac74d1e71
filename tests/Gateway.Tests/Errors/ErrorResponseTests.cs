using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Errors;

/// <summary>
/// Every bad input gets the right status and OpenAI's error shape, without stack traces. Runs on the real
/// host; the unknown-model case needs the real catalog and the prompt-too-long case the real engine.
/// </summary>
public sealed class ErrorResponseTests
{
    private const string Chat = "/v1/chat/completions";

    [Fact]
    public async Task Malformed_json_is_400()
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync(Chat, ApiAssert.Json("""{"model":"stories260K","messages":[{"role":"user","content":"secret words"""));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, code: "invalid_json");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.DoesNotContain("secret", error.GetRawText());
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    [InlineData("identity, gzip")]
    public async Task A_compressed_body_is_415_not_a_confusing_invalid_json(string encoding)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var json = Encoding.UTF8.GetBytes("""{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"max_tokens":2}""");
        using var compressed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(json);
        }

        using var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentType = new("application/json");
        foreach (var coding in encoding.Split(", "))
        {
            content.Headers.ContentEncoding.Add(coding); // "identity, gzip": gzip after identity is still gzip
        }

        using var response = await environment.Http.PostAsync(Chat, content);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.UnsupportedMediaType, code: "unsupported_content_encoding");
        using var plain = new ByteArrayContent(json);
        plain.Headers.ContentType = new("application/json");
        plain.Headers.ContentEncoding.Add("identity");
        using var served = await environment.Http.PostAsync(Chat, plain);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task Error_bodies_are_escaped_like_every_other_body_so_messages_stay_readable()
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync(Chat, ApiAssert.Json("""{"model":"stories260K","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"""));

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("""({\"type\":\"text\",\"text\":\"...\"})""", body); // a quote in a message is \" as in JSON's own grammar
        Assert.DoesNotContain("\\u0022", body);
        using var max = await environment.Http.PostAsync(Chat, ApiAssert.Json("""{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"max_tokens":0}"""));
        var maxBody = await max.Content.ReadAsStringAsync();
        Assert.Contains("'max_tokens' must be at least 1.", maxBody);
        Assert.DoesNotContain("\\u0027", maxBody);
    }

    [Theory]
    [InlineData("""{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""", "temperature")]
    [InlineData("""{"model":"stories260K","messages":"hi"}""", "messages")]
    [InlineData("", null)]
    [InlineData("[]", null)]
    public async Task Wrongly_typed_json_is_400_naming_where(string body, string? param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync(Chat, ApiAssert.Json(body));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "invalid_json");
    }

    [Theory]
    [InlineData("/v1/chat/completions", """{"model":"stories260K","messages":[{"role":"user","content":"Once \ud800"}]}""", "messages[0].content")]
    [InlineData("/v1/chat/completions", """{"model":"stories260K","messages":[{"role":"user","content":[{"type":"text","text":"\udfff"}]}]}""", "messages[0].content[0].text")]
    [InlineData("/v1/chat/completions", """{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"stop":["x","\uD800"]}""", "stop[1]")]
    [InlineData("/v1/chat/completions", """{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"lora":[{"name":"x","\ud800":1}]}""", "lora[0]")]
    [InlineData("/v1/chat/completions", """{"\ud800":1,"model":"stories260K","messages":[{"role":"user","content":"hi"}]}""", null)]
    [InlineData("/v1/route", """{"model":"auto","messages":[{"role":"user","content":"hi"},{"role":"user","content":"\ud83d\ud83d"}]}""", "messages[1].content")]
    [InlineData("/v1/completions", """{"model":"stories260K","prompt":["\ud800"]}""", "prompt[0]")]
    [InlineData("/v1/embeddings", """{"model":"stories260K","input":["a","\ude00 b"]}""", "input[1]")]
    [InlineData("/v1/conversations", """{"items":[{"type":"message","role":"user","content":[{"type":"input_text","text":"\ud800"}]}]}""", "items[0].content[0].text")]
    [InlineData("/v1/models/share", """{"name":"stories\ud800"}""", "name")]
    [InlineData("/v1/vector_stores", """{"name":"notes","metadata":{"k":"\udfff"}}""", "metadata.k")]
    public async Task An_unpaired_surrogate_escape_is_400_naming_where_it_is(string path, string body, string? param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync(path, ApiAssert.Json(body));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "invalid_value");
        Assert.Contains("unpaired UTF-16 surrogate", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        if (param is null)
        {
            Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind); // a name at the top level: the body as a whole
        }
    }

    // Sent as Latin-1 (the byte 0xE9 for "\u00e9"), as a client that ignores JSON's UTF-8 rule does. These fields are kept as
    // JSON elements and read later, where the bytes failed to decode: a 500 before.
    [Theory]
    [InlineData("/v1/chat/completions", "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"secret caf\u00e9\"}]}", "messages[0].content")]
    [InlineData("/v1/chat/completions", "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stop\":\"\u00e9\"}", "stop")]
    [InlineData("/v1/route", "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"secret \u00e9\"}]}]}", "messages[0].content[0].text")]
    [InlineData("/v1/completions", "{\"model\":\"stories260K\",\"prompt\":[\"secret caf\u00e9\"]}", "prompt[0]")]
    [InlineData("/v1/embeddings", "{\"model\":\"stories260K\",\"input\":\"secret caf\u00e9\"}", "input")]
    [InlineData("/v1/conversations", "{\"items\":[{\"type\":\"message\",\"role\":\"user\",\"content\":\"secret caf\u00e9\"}]}", "items[0].content")]
    [InlineData("/v1/chat/completions", "{\"model\":\"stories260K\",\"caf\u00e9\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1}", null)]
    public async Task A_body_that_is_not_UTF_8_is_400_naming_where(string path, string body, string? param)
    {
        await using var environment = await TestEnvironment.StartAsync();
        using var content = new ByteArrayContent(Encoding.Latin1.GetBytes(body));
        content.Headers.ContentType = new("application/json");

        using var response = await environment.Http.PostAsync(path, content);

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "invalid_json");
        Assert.Contains("not UTF-8", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("secret", error.GetRawText());
        using var health = await environment.Http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    // Which copy was meant is the client's to say: a key given twice was accepted here (the last copy won), while the
    // OpenAI endpoints refuse it.
    [Theory]
    [InlineData("/v1/conversations", """{"metadata":{"topic":"a","topic":"b"}}""", "metadata.topic")]
    [InlineData("/v1/conversations", """{"items":[{"type":"message","role":"user","content":"a","content":"b"}]}""", "items[0].content")]
    [InlineData("/v1/presets/twice", """{"model":"stories260K","model":"other"}""", "model")]
    [InlineData("/v1/vector_stores", """{"name":"a","name":"b"}""", "name")]
    [InlineData("/v1/models/pull", """{"source":"magnet:?xt=urn:btih:a","source":"b"}""", "source")]
    public async Task A_key_given_twice_is_400_on_every_endpoint_of_ours_too(string path, string body, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync(path, ApiAssert.Json(body));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "invalid_json");
    }

    [Theory]
    [InlineData("""a surrogate pair \ud83d\ude00 and an escaped backslash before u, C:\\ud800""")]
    [InlineData("""\\\ud83d\ude00""")]
    public async Task Paired_surrogates_and_escaped_backslashes_are_text(string content)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/embeddings", ApiAssert.Json($$"""{"model":"stories260K","input":"{{content}}"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Unknown_model_is_404_model_not_found()
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync(Chat, ApiAssert.Json("""{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}"""));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.NotFound, param: "model", code: "model_not_found");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Prompt_over_the_context_is_400_naming_the_limit(bool stream)
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.ContextLength = 32);
        var prompt = string.Concat(Enumerable.Repeat("Once upon a time there was a cat. ", 20));

        using var response = await environment.Http.PostAsync("/v1/completions",
            ApiAssert.Json($$"""{"model":"stories260K","prompt":"{{prompt}}","stream":{{(stream ? "true" : "false")}}}"""));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "prompt", code: "context_length_exceeded");
        Assert.Contains("32", error.GetProperty("message").GetString());
        Assert.DoesNotContain("cat", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task An_embedding_input_over_the_context_is_400_that_speaks_of_the_input_not_of_generated_tokens()
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.ContextLength = 32);
        var text = string.Concat(Enumerable.Repeat("Once upon a time there was a cat. ", 20));

        using var response = await environment.Http.PostAsync("/v1/embeddings", ApiAssert.Json($$"""{"model":"stories260K","input":["Once","{{text}}"]}"""));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "input[1]", code: "context_length_exceeded");
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("32", message);
        Assert.Contains("input[1]", message);
        Assert.DoesNotContain("generated", message);
        Assert.DoesNotContain("cat", message);
    }

    [Theory]
    [InlineData("\"temperature\":5", "temperature")]
    [InlineData("\"top_p\":2", "top_p")]
    [InlineData("\"n\":17", "n")]
    [InlineData("\"logit_bias\":{\"5\":200}", "logit_bias")]
    [InlineData("\"logit_bias\":{\"abc\":1}", "logit_bias")]
    [InlineData("\"max_tokens\":0", "max_tokens")]
    [InlineData("\"stop\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]", "stop")]
    [InlineData("\"stop\":[\"a\",\"\"]", "stop[1]")]
    [InlineData("\"stop\":[\"a\",2]", "stop[1]")]
    [InlineData("\"stop\":\"\"", "stop")]
    [InlineData("\"presence_penalty\":3", "presence_penalty")]
    [InlineData("\"frequency_penalty\":-3", "frequency_penalty")]
    [InlineData("\"top_k\":-1", "top_k")]
    [InlineData("\"min_p\":1.5", "min_p")]
    [InlineData("\"repeat_penalty\":0", "repeat_penalty")]
    public async Task Invalid_parameter_is_400_naming_it(string parameter, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync(Chat, ApiAssert.Json($$"""{"model":"stories260K","messages":[{"role":"user","content":"hi"}],{{parameter}}}"""));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param);
    }

    [Theory]
    [InlineData("""{"model":"stories260K","messages":[]}""", "messages")]
    [InlineData("""{"model":"stories260K","messages":[{"role":"wizard","content":"hi"}]}""", "messages[0].role")]
    [InlineData("""{"model":"stories260K","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "messages[0].content")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", "model")]
    public async Task Invalid_messages_are_400_naming_the_field(string body, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync(Chat, ApiAssert.Json(body));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param);
    }

    [Fact]
    public async Task Oversized_body_is_413_in_our_shape()
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.ExtraArgs.AddRange(["--max-body-bytes", "2048"]));
        var big = new string('a', 8 * 1024);

        using var response = await environment.Http.PostAsync(Chat, ApiAssert.Json($$"""{"model":"stories260K","messages":[{"role":"user","content":"{{big}}"}]}"""));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, code: "request_too_large");
        Assert.Contains("2048", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Oversized_chunked_body_is_413_in_our_shape()
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.ExtraArgs.AddRange(["--max-body-bytes", "2048"]));
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($$"""{"model":"stories260K","prompt":"{{new string('a', 4096)}}"}""")));
        content.Headers.ContentType = new("application/json");

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await environment.Http.SendAsync(request);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, code: "request_too_large");
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("192.168.0.10")]
    public async Task Non_loopback_host_header_is_403(string host)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Host = host;
        using var response = await environment.Http.SendAsync(request);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.Forbidden, code: "host_not_allowed");
    }

    // What a page on another site can send to 127.0.0.1 without a CORS preflight: a text/plain POST with the right Host.
    // The gateway reads it as JSON, so the page could create presets, add conversation items, pull models.
    [Theory]
    [InlineData("http://evil.example", false)]
    [InlineData("https://localhost.evil.example", false)]
    [InlineData("null", false)]
    [InlineData("file://", false)]
    [InlineData("http://localhost:3000", true)]
    [InlineData("http://127.0.0.1:8080", true)]
    [InlineData(null, true)]
    public async Task A_request_from_a_web_page_of_another_site_is_403_and_changes_nothing(string? origin, bool allowed)
    {
        await using var environment = await TestEnvironment.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/presets") { Content = new StringContent("""{"name":"planted"}""", Encoding.UTF8, "text/plain") };
        if (origin is not null) request.Headers.Add("Origin", origin);

        using var response = await environment.Http.SendAsync(request);

        if (allowed)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return;
        }

        await ApiAssert.ErrorAsync(response, HttpStatusCode.Forbidden, code: "origin_not_allowed");
        using var planted = await environment.Http.GetAsync("/v1/presets/planted");
        Assert.Equal(HttpStatusCode.NotFound, planted.StatusCode);
    }

    [Fact]
    public async Task Allowed_hosts_flag_lets_a_name_through()
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.ExtraArgs.AddRange(["--allowed-hosts", "mesh.lan"]));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.Host = "mesh.lan";
        using var response = await environment.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Unknown_route_is_404_and_wrong_method_is_405_in_our_shape()
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var notFound = await environment.Http.GetAsync("/v1/nothing-here");
        await ApiAssert.ErrorAsync(notFound, HttpStatusCode.NotFound, code: "unknown_url");

        using var wrongMethod = await environment.Http.GetAsync(Chat);
        await ApiAssert.ErrorAsync(wrongMethod, HttpStatusCode.MethodNotAllowed, code: "method_not_allowed");
    }
}
