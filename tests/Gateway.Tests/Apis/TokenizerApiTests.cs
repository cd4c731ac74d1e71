using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Apis;

/// <summary>
/// llama-server's <c>/tokenize</c>, <c>/detokenize</c> and <c>/apply-template</c> on the real engine (stories260K) over
/// real HTTP: the ids are the ones the engine scores a prompt with, text round-trips, pieces are llama-server's.
/// </summary>
public sealed class TokenizerApiTests
{
    private const string Text = "Once upon a time";

    [Fact]
    public async Task Tokenize_gives_the_ids_the_engine_reads_a_text_prompt_as()
    {
        await using var environment = await TestEnvironment.StartAsync();

        var withBos = Ids(await PostOkAsync(environment, "/tokenize", new { model = TestEnvironment.Stories, content = Text, add_special = true }));
        var plain = Ids(await PostOkAsync(environment, "/tokenize", new { model = TestEnvironment.Stories, content = Text }));

        Assert.Equal(5, withBos.Length); // BOS, "Once", " upon", " a", " time" (the echoed tokens of a text prompt)
        Assert.Equal(withBos[1..], plain); // add_special is false by default, as on llama-server
        // Scored as a token prompt, these ids are exactly the text prompt's tokens: same texts, same log probabilities.
        var asText = await ScoreAsync(environment, JsonSerializer.SerializeToElement(Text));
        var asIds = await ScoreAsync(environment, JsonSerializer.SerializeToElement(withBos));
        Assert.Equal(["", "Once", " upon", " a", " time"], Strings(asText.GetProperty("tokens")));
        Assert.Equal(Strings(asText.GetProperty("tokens")), Strings(asIds.GetProperty("tokens")));
        Assert.Equal(asText.GetProperty("token_logprobs").GetRawText(), asIds.GetProperty("token_logprobs").GetRawText());
        // The same through /v1 (for clients given the OpenAI base URL).
        Assert.Equal(withBos, Ids(await PostOkAsync(environment, "/v1/tokenize", new { model = TestEnvironment.Stories, content = Text, add_special = true })));
    }

    [Theory]
    [InlineData(Text)]
    [InlineData("  Two spaces, a tab\tand a newline\n.")]
    [InlineData("Café ☕ 日本 😀")]
    public async Task Detokenize_gives_back_the_text_that_was_tokenized_with_or_without_bos(string text)
    {
        await using var environment = await TestEnvironment.StartAsync();

        foreach (var addSpecial in new[] { false, true })
        {
            var ids = Ids(await PostOkAsync(environment, "/tokenize", new { model = TestEnvironment.Stories, content = text, add_special = addSpecial }));
            var back = await PostOkAsync(environment, "/detokenize", new { model = TestEnvironment.Stories, tokens = ids });
            Assert.Equal(text, back.GetProperty("content").GetString());
        }
    }

    [Fact]
    public async Task Pieces_are_llama_servers_strings_or_byte_arrays_and_add_up_to_the_text()
    {
        await using var environment = await TestEnvironment.StartAsync();
        const string text = "Once upon a café ☕";

        var tokens = (await PostOkAsync(environment, "/tokenize", new { model = TestEnvironment.Stories, content = text, add_special = true, with_pieces = true }))
            .GetProperty("tokens").EnumerateArray().ToList();
        var ids = Ids(await PostOkAsync(environment, "/tokenize", new { model = TestEnvironment.Stories, content = text, add_special = true }));

        Assert.Equal(ids, tokens.Select(t => t.GetProperty("id").GetInt32()));
        Assert.Equal("<s>", tokens[0].GetProperty("piece").GetString()); // special tokens as their text (llama-server's common_token_to_piece)
        Assert.Equal([" Once", " upon", " a"], tokens[1..4].Select(t => t.GetProperty("piece").GetString()));
        // stories260K has no token for "☕": byte tokens, each alone not UTF-8, so an array of byte values.
        var arrays = tokens.Where(t => t.GetProperty("piece").ValueKind == JsonValueKind.Array).ToList();
        Assert.True(arrays.Count > 0, string.Join(" ", tokens.Select(t => t.GetRawText())));
        Assert.All(arrays, t => Assert.All(t.GetProperty("piece").EnumerateArray(), b => Assert.InRange(b.GetInt32(), 0x80, 0xFF)));
        // The pieces after BOS are the text's bytes, with the SentencePiece space before the first word.
        var bytes = tokens.Skip(1).SelectMany(t => t.GetProperty("piece") is { ValueKind: JsonValueKind.String } piece
            ? Encoding.UTF8.GetBytes(piece.GetString()!)
            : t.GetProperty("piece").EnumerateArray().Select(b => (byte)b.GetInt32()).ToArray());
        Assert.Equal(Encoding.UTF8.GetBytes(" " + text), bytes.ToArray());
    }

    [Fact]
    public async Task Content_may_mix_strings_and_ids_as_llama_server_reads_it()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var withBos = Ids(await PostOkAsync(environment, "/tokenize", new { model = TestEnvironment.Stories, content = Text, add_special = true }));

        var mixed = JsonSerializer.SerializeToElement(new object[] { withBos[0], Text });
        var ids = Ids(await PostOkAsync(environment, "/tokenize", new { model = TestEnvironment.Stories, content = mixed }));

        Assert.Equal(withBos, ids);
    }

    [Fact]
    public async Task Apply_template_gives_the_prompt_the_chat_endpoint_generates_from()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var messages = new object[] { new { role = "system", content = "Be brief." }, new { role = "user", content = Text } };

        var prompt = (await PostOkAsync(environment, "/apply-template", new { model = TestEnvironment.Stories, messages })).GetProperty("prompt").GetString()!;

        // stories260K has no chat template: the documented fallback transcript.
        Assert.Equal($"System: Be brief.\n\nUser: {Text}\n\nAssistant:", prompt);
        var chat = await PostOkAsync(environment, "/v1/chat/completions", new { model = TestEnvironment.Stories, messages, max_tokens = 1 });
        var ids = Ids(await PostOkAsync(environment, "/tokenize", new { model = TestEnvironment.Stories, content = prompt, add_special = true }));
        Assert.Equal(ids.Length, chat.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        // With tools, the prompt carries what the local model is told about them, as the chat endpoint's does.
        var withTools = await PostOkAsync(environment, "/v1/apply-template", new
        {
            model = TestEnvironment.Stories,
            messages,
            tools = new[] { new { type = "function", function = new { name = "get_weather", parameters = new { type = "object", properties = new { } } } } },
        });
        Assert.Contains("get_weather", withTools.GetProperty("prompt").GetString());
    }

    [Fact]
    public async Task Model_may_be_left_out_when_the_folder_lists_one_and_must_be_named_when_it_lists_several()
    {
        var dir = TestPaths.NewTempDir("im-tokenizer");
        try
        {
            File.Copy(TestPaths.Stories260K, Path.Combine(dir, "stories260K.gguf"));
            await using (var one = await TestEnvironment.StartAsync(e => e.ModelsDirectory = dir))
            {
                var ids = Ids(await PostOkAsync(one, "/tokenize", new { content = Text }));
                Assert.Equal(Text, (await PostOkAsync(one, "/detokenize", new { tokens = ids })).GetProperty("content").GetString());
                Assert.Equal(Text, (await PostOkAsync(one, "/apply-template", new { messages = new[] { new { role = "user", content = Text } } })).GetProperty("prompt").GetString());
            }

            File.Copy(TestPaths.Stories260K, Path.Combine(dir, "stories-copy.gguf"));
            await using var two = await TestEnvironment.StartAsync(e => e.ModelsDirectory = dir);
            foreach (var (path, body) in new (string, object)[]
            {
                ("/tokenize", new { content = Text }),
                ("/detokenize", new { tokens = new[] { 1 } }),
                ("/apply-template", new { messages = new[] { new { role = "user", content = Text } } }),
            })
            {
                using var response = await PostAsync(two, path, body);
                var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "model", code: "missing_required_parameter");
                Assert.Contains("2 models", error.GetProperty("message").GetString());
            }

            Assert.NotEmpty(Ids(await PostOkAsync(two, "/tokenize", new { model = "stories-copy", content = Text })));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("/detokenize", """{"model":"stories260K","tokens":[1,512]}""", HttpStatusCode.BadRequest, "tokens[1]", "invalid_value")]
    [InlineData("/detokenize", """{"model":"stories260K","tokens":[-1]}""", HttpStatusCode.BadRequest, "tokens[0]", "invalid_value")]
    [InlineData("/detokenize", """{"model":"stories260K","tokens":[1.5]}""", HttpStatusCode.BadRequest, "tokens[0]", "invalid_value")]
    [InlineData("/detokenize", """{"model":"stories260K","tokens":"Once"}""", HttpStatusCode.BadRequest, "tokens", "invalid_value")]
    [InlineData("/detokenize", """{"model":"stories260K"}""", HttpStatusCode.BadRequest, "tokens", "missing_required_parameter")]
    [InlineData("/tokenize", """{"model":"stories260K","content":["Once",99999]}""", HttpStatusCode.BadRequest, "content[1]", "invalid_value")]
    [InlineData("/tokenize", """{"model":"stories260K","content":["Once",{}]}""", HttpStatusCode.BadRequest, "content[1]", "invalid_value")]
    [InlineData("/tokenize", """{"model":"stories260K","content":7}""", HttpStatusCode.BadRequest, "content", "invalid_value")]
    [InlineData("/tokenize", """{"model":"stories260K"}""", HttpStatusCode.BadRequest, "content", "missing_required_parameter")]
    [InlineData("/tokenize", """{"model":"stories260K","content":"x","with_pieces":"yes"}""", HttpStatusCode.BadRequest, "with_pieces", "invalid_json")]
    [InlineData("/tokenize", """{"model":"stories260K","content":"x","content":"y"}""", HttpStatusCode.BadRequest, "content", "invalid_json")]
    [InlineData("/tokenize", """{"model":"no-such-model","content":"x"}""", HttpStatusCode.NotFound, "model", "model_not_found")]
    [InlineData("/v1/detokenize", """{"model":"no-such-model","tokens":[1]}""", HttpStatusCode.NotFound, "model", "model_not_found")]
    [InlineData("/apply-template", """{"model":"stories260K","messages":[]}""", HttpStatusCode.BadRequest, "messages", "invalid_value")]
    [InlineData("/apply-template", """{"model":"stories260K","messages":[{"role":"wizard","content":"hi"}]}""", HttpStatusCode.BadRequest, "messages[0].role", "invalid_value")]
    public async Task Bad_input_is_an_error_in_our_shape_naming_the_field(string path, string body, HttpStatusCode status, string param, string code)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync(path, ApiAssert.Json(body));

        await ApiAssert.ErrorAsync(response, status, param, code);
    }

    [Fact]
    public async Task The_host_check_and_the_body_limit_apply_as_everywhere_else()
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.ExtraArgs.AddRange(["--max-body-bytes", "2048"]));

        using var large = await environment.Http.PostAsync("/tokenize", ApiAssert.Json($$"""{"model":"stories260K","content":"{{new string('a', 4096)}}"}"""));
        await ApiAssert.ErrorAsync(large, HttpStatusCode.RequestEntityTooLarge, code: "request_too_large");

        using var request = new HttpRequestMessage(HttpMethod.Post, "/detokenize") { Content = ApiAssert.Json("""{"model":"stories260K","tokens":[1]}""") };
        request.Headers.Host = "attacker.example";
        using var rebound = await environment.Http.SendAsync(request);
        await ApiAssert.ErrorAsync(rebound, HttpStatusCode.Forbidden, code: "host_not_allowed");
    }

    private static Task<HttpResponseMessage> PostAsync(TestEnvironment environment, string path, object body) =>
        environment.Http.PostAsync(path, ApiAssert.Json(JsonSerializer.Serialize(body)));

    private static async Task<JsonElement> PostOkAsync(TestEnvironment environment, string path, object body)
    {
        using var response = await PostAsync(environment, path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        Assert.Equal("local", response.Headers.GetValues("X-InferenceMesh-Backend").Single()); // served by the local engine only
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>A prompt's echoed tokens and their log probabilities, read only (max_tokens 0).</summary>
    private static async Task<JsonElement> ScoreAsync(TestEnvironment environment, JsonElement prompt)
    {
        var completion = await PostOkAsync(environment, "/v1/completions", new { model = TestEnvironment.Stories, prompt, echo = true, max_tokens = 0, logprobs = 0 });
        return completion.GetProperty("choices")[0].GetProperty("logprobs");
    }

    private static int[] Ids(JsonElement response) => [.. response.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32())];

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(t => t.GetString()!)];
}
