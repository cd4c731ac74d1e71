using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;
using OpenAI.Chat;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // the official client marks its Responses API experimental

namespace InferenceMesh.Gateway.Tests.Apis;

/// <summary>
/// Needs the real engine and catalog: POST /v1/responses through the official client's ResponsesClient, served by the
/// local stories260K (no chat template: a single user message is continued as is, anything longer is the engine's
/// fallback transcript, the same prompt /v1/chat/completions builds).
/// </summary>
public sealed class ResponsesTests
{
    private const string Prompt = "Once upon a time";

    private static CreateResponseOptions Greedy(int maxOutputTokens, params ResponseItem[] input)
    {
        var options = new CreateResponseOptions(TestEnvironment.Stories, input) { Temperature = 0, MaxOutputTokenCount = maxOutputTokens };
        return options;
    }

    private static ResponsesClient Client(TestEnvironment environment) => environment.OpenAi.GetResponsesClient();

    [Fact]
    public async Task Official_client_gets_the_greedy_story_streamed_and_not_with_the_same_text_and_usage()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var client = Client(environment);

        ResponseResult response = await client.CreateResponseAsync(Greedy(64, ResponseItem.CreateUserMessageItem(Prompt)));
        var (streamedText, streamed, sequence) = await StreamAsync(client, Greedy(64, ResponseItem.CreateUserMessageItem(Prompt)));

        var text = response.GetOutputText();
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation, text);
        Assert.StartsWith("resp_", response.Id);
        Assert.Equal(TestEnvironment.Stories, response.Model);
        Assert.Contains(response.Status, new ResponseStatus?[] { ResponseStatus.Completed, ResponseStatus.Incomplete });
        var message = Assert.IsAssignableFrom<MessageResponseItem>(Assert.Single(response.OutputItems));
        Assert.Equal(MessageRole.Assistant, message.Role);
        Assert.StartsWith("msg_", message.Id);
        Assert.True(response.Usage.InputTokenCount > 0);
        Assert.InRange(response.Usage.OutputTokenCount, 1, 64);
        Assert.Equal(response.Usage.InputTokenCount + response.Usage.OutputTokenCount, response.Usage.TotalTokenCount);
        Assert.Equal(0, response.Usage.InputTokenDetails.CachedTokenCount);
        Assert.Equal(0, response.Usage.OutputTokenDetails.ReasoningTokenCount);

        Assert.Equal(text, streamedText);
        Assert.Equal(text, streamed.GetOutputText());
        Assert.Equal(response.Status, streamed.Status);
        Assert.Equal(response.Usage.InputTokenCount, streamed.Usage.InputTokenCount);
        Assert.Equal(response.Usage.OutputTokenCount, streamed.Usage.OutputTokenCount);
        Assert.Equal(Enumerable.Range(0, sequence.Count), sequence);
    }

    [Fact]
    public async Task Instructions_and_message_items_give_what_chat_completions_gives_for_the_same_messages()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var options = Greedy(24,
            ResponseItem.CreateUserMessageItem("Tell me a story."),
            ResponseItem.CreateAssistantMessageItem([ResponseContentPart.CreateOutputTextPart("Once upon a time", [])]),
            ResponseItem.CreateDeveloperMessageItem("Be brief."),
            ResponseItem.CreateUserMessageItem([ResponseContentPart.CreateInputTextPart("Go on."), ResponseContentPart.CreateInputTextPart("Please.")]));
        options.Instructions = "You tell stories.";

        ResponseResult response = await Client(environment).CreateResponseAsync(options);
        ChatCompletion chat = await environment.OpenAi.GetChatClient(TestEnvironment.Stories).CompleteChatAsync(
            [
                new SystemChatMessage("You tell stories."), new UserChatMessage("Tell me a story."), new AssistantChatMessage("Once upon a time"),
                new DeveloperChatMessage("Be brief."), new UserChatMessage("Go on.\nPlease."),
            ],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 });

        Assert.False(string.IsNullOrEmpty(chat.Content[0].Text));
        Assert.Equal(chat.Content[0].Text, response.GetOutputText());
        Assert.Equal(chat.Usage.InputTokenCount, response.Usage.InputTokenCount);
        Assert.Equal(chat.Usage.OutputTokenCount, response.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task A_second_turn_sends_the_first_output_items_back_as_input()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var client = Client(environment);
        ResponseResult first = await client.CreateResponseAsync(Greedy(12, ResponseItem.CreateUserMessageItem(Prompt)));

        // No storage: the client keeps the conversation and sends the model's output items back as they came.
        var second = Greedy(12, [ResponseItem.CreateUserMessageItem(Prompt), .. first.OutputItems, ResponseItem.CreateUserMessageItem("What happened next?")]);
        ResponseResult response = await client.CreateResponseAsync(second);
        ChatCompletion chat = await environment.OpenAi.GetChatClient(TestEnvironment.Stories).CompleteChatAsync(
            [new UserChatMessage(Prompt), new AssistantChatMessage(first.GetOutputText()), new UserChatMessage("What happened next?")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 });

        Assert.False(string.IsNullOrEmpty(response.GetOutputText()));
        Assert.Equal(chat.Content[0].Text, response.GetOutputText());
        Assert.Equal(chat.Usage.InputTokenCount, response.Usage.InputTokenCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Max_output_tokens_reached_makes_the_response_incomplete_with_its_reason(bool stream)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var client = Client(environment);
        var options = Greedy(5, ResponseItem.CreateUserMessageItem(Prompt));

        var response = stream ? (await StreamAsync(client, options)).Response : (ResponseResult)await client.CreateResponseAsync(options);

        Assert.Equal(ResponseStatus.Incomplete, response.Status);
        Assert.Equal(ResponseIncompleteStatusReason.MaxOutputTokens, response.IncompleteStatusDetails.Reason);
        Assert.Equal(5, response.Usage.OutputTokenCount);
        Assert.Equal(5, response.MaxOutputTokenCount);
        Assert.Equal(MessageStatus.Incomplete, Assert.IsAssignableFrom<MessageResponseItem>(Assert.Single(response.OutputItems)).Status);
        Assert.StartsWith(response.GetOutputText(), TestPaths.Stories260KGreedyContinuation);
    }

    [Fact]
    public async Task A_json_schema_text_format_gives_json_that_parses_streamed_or_not()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var client = Client(environment);
        const string schema = """
            {"type":"object","additionalProperties":false,
             "properties":{"name":{"type":"string","maxLength":12},"tags":{"type":"array","items":{"enum":["cat","dog","sun"]},"maxItems":3}},
             "required":["name","tags"]}
            """;
        CreateResponseOptions Options()
        {
            var options = Greedy(400, ResponseItem.CreateUserMessageItem(Prompt));
            options.TextOptions = new ResponseTextOptions { TextFormat = ResponseTextFormat.CreateJsonSchemaFormat("story", BinaryData.FromString(schema), jsonSchemaIsStrict: true) };
            return options;
        }

        ResponseResult response = await client.CreateResponseAsync(Options());
        var (streamedText, _, _) = await StreamAsync(client, Options());

        Assert.Equal(ResponseStatus.Completed, response.Status);
        Assert.Equal(ResponseTextFormatKind.JsonSchema, response.TextOptions.TextFormat.Kind);
        var text = response.GetOutputText();
        Assert.Equal(text, streamedText);
        using var json = JsonDocument.Parse(text);
        Assert.InRange(json.RootElement.GetProperty("name").GetString()!.Length, 0, 12);
        Assert.All(json.RootElement.GetProperty("tags").EnumerateArray(), t => Assert.Contains(t.GetString(), new[] { "cat", "dog", "sun" }));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Included_logprobs_are_chats_for_the_same_prompt_streamed_or_not(bool stream)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = $$"""{"model":"stories260K","input":"{{Prompt}}","max_output_tokens":8,"temperature":0,"include":["message.output_text.logprobs"],"top_logprobs":2,"stream":{{(stream ? "true" : "false")}}}""";
        var chatBody = $$"""{"model":"stories260K","messages":[{"role":"user","content":"{{Prompt}}"}],"max_tokens":8,"temperature":0,"logprobs":true,"top_logprobs":2}""";

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(body));
        using var chat = await environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(chatBody));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var chatJson = JsonDocument.Parse(await chat.Content.ReadAsStringAsync());
        var expected = chatJson.RootElement.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray().ToArray();
        if (stream)
        {
            var events = Sse.ParseNamed(text);
            var deltas = events.Where(e => e.GetProperty("type").GetString() == "response.output_text.delta").SelectMany(e => e.GetProperty("logprobs").EnumerateArray());
            AssertSameLogProbs(expected, deltas);
            AssertSameLogProbs(expected, events[^4].GetProperty("logprobs").EnumerateArray()); // response.output_text.done
            text = events[^1].GetProperty("response").GetRawText();
        }

        using var json = JsonDocument.Parse(text);
        var part = json.RootElement.GetProperty("output")[0].GetProperty("content")[0];
        AssertSameLogProbs(expected, part.GetProperty("logprobs").EnumerateArray());
        Assert.Equal(8, part.GetProperty("logprobs").GetArrayLength());
        Assert.All(part.GetProperty("logprobs").EnumerateArray(), l => Assert.Equal(2, l.GetProperty("top_logprobs").GetArrayLength()));
    }

    /// <summary>The same tokens with the same alternatives; values equal up to float noise (a reused prompt prefix is decoded in another batch).</summary>
    private static void AssertSameLogProbs(IReadOnlyList<JsonElement> expected, IEnumerable<JsonElement> actual)
    {
        var entries = actual.ToArray();
        Assert.Equal(expected.Count, entries.Length);
        for (var i = 0; i < entries.Length; i++)
        {
            Assert.Equal(expected[i].GetProperty("token").GetString(), entries[i].GetProperty("token").GetString());
            Assert.Equal(expected[i].GetProperty("bytes").GetRawText(), entries[i].GetProperty("bytes").GetRawText());
            Assert.Equal(expected[i].GetProperty("logprob").GetDouble(), entries[i].GetProperty("logprob").GetDouble(), 1e-3);
            var top = entries[i].GetProperty("top_logprobs").EnumerateArray().ToArray();
            var expectedTop = expected[i].GetProperty("top_logprobs").EnumerateArray().ToArray();
            Assert.Equal(expectedTop.Select(t => t.GetProperty("token").GetString()), top.Select(t => t.GetProperty("token").GetString()));
            Assert.Equal(expectedTop.Select(t => t.GetProperty("logprob").GetDouble()), top.Select(t => t.GetProperty("logprob").GetDouble()), new ToleranceComparer());
        }
    }

    private sealed class ToleranceComparer : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) < 1e-3;

        public int GetHashCode(double obj) => 0;
    }

    [Fact]
    public async Task Logprobs_are_computed_only_when_include_asks()
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(WithFields("""{"top_logprobs":3}""")));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        Assert.False(json.RootElement.GetProperty("output")[0].GetProperty("content")[0].TryGetProperty("logprobs", out _));
    }

    [Fact]
    public async Task Settings_and_metadata_are_echoed_and_nothing_is_stored()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = """{"model":"stories260K","input":"Once upon a time","max_output_tokens":3,"temperature":0,"top_p":0.5,"store":false,"metadata":{"run":"42"},"instructions":null}""";

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(body));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("local", response.Headers.GetValues("X-InferenceMesh-Backend").Single());
        using var json = JsonDocument.Parse(text);
        var root = json.RootElement;
        Assert.Equal("response", root.GetProperty("object").GetString());
        Assert.Equal("42", root.GetProperty("metadata").GetProperty("run").GetString());
        Assert.Equal(0.5, root.GetProperty("top_p").GetDouble());
        Assert.Equal(0, root.GetProperty("temperature").GetDouble());
        Assert.False(root.GetProperty("store").GetBoolean());
        Assert.Equal("text", root.GetProperty("text").GetProperty("format").GetProperty("type").GetString());
        Assert.StartsWith("{\"type\":\"message\",", root.GetProperty("output")[0].GetRawText()); // the discriminator first, as OpenAI writes it
        Assert.Equal(JsonValueKind.Null, root.GetProperty("error").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("previous_response_id").ValueKind);
        var part = root.GetProperty("output")[0].GetProperty("content")[0];
        Assert.Equal("output_text", part.GetProperty("type").GetString());
        Assert.Equal(0, part.GetProperty("annotations").GetArrayLength());
    }

    [Fact]
    public async Task The_stream_is_named_events_in_order_without_done()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = """{"model":"stories260K","input":"Once upon a time","max_output_tokens":8,"temperature":0,"stream":true}""";

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = Sse.ParseNamed(await response.Content.ReadAsStringAsync());
        var types = events.Select(e => e.GetProperty("type").GetString()!).ToArray();
        Assert.Equal<string>(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], types[..4]);
        Assert.Equal<string>(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete"], types[^4..]);
        Assert.All(types[4..^4], t => Assert.Equal("response.output_text.delta", t));
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.GetProperty("sequence_number").GetInt32()));
        var itemId = events[2].GetProperty("item").GetProperty("id").GetString();
        var deltas = events.Where(e => e.GetProperty("type").GetString() == "response.output_text.delta").ToArray();
        Assert.All(deltas, d => Assert.Equal(itemId, d.GetProperty("item_id").GetString()));
        Assert.Equal(string.Concat(deltas.Select(d => d.GetProperty("delta").GetString())), events[^4].GetProperty("text").GetString());
        Assert.Equal("in_progress", events[0].GetProperty("response").GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("""{"tools":[{"type":"web_search"}]}""", "tools[0].type")]
    [InlineData("""{"tool_choice":{"type":"web_search_preview"}}""", "tool_choice")]
    [InlineData("""{"background":true}""", "background")]
    [InlineData("""{"conversation":"conv_1"}""", "conversation")]
    [InlineData("""{"input":[{"type":"item_reference","id":"msg_1"}]}""", "input[0]")]
    [InlineData("""{"input":[{"role":"user","content":"a"},{"type":"reasoning","summary":[]}]}""", "input[1]")]
    [InlineData("""{"input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"https://x/y.png"}]}]}""", "input[0].content[1]")]
    [InlineData("""{"input":[{"role":"user","content":[{"type":"input_file","file_id":"file-1"}]}]}""", "input[0].content[0]")]
    [InlineData("""{"text":{"format":{"type":"json_schema","name":"x","schema":{"type":"string","pattern":"a+"}}}}""", "text.format.schema")]
    [InlineData("""{"text":{"format":{"type":"xml"}}}""", "text.format.type")]
    public async Task A_field_the_local_model_cannot_honour_is_400_naming_it(string fields, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(WithFields(fields)));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "unsupported_parameter");
    }

    [Fact]
    public async Task Neutral_values_of_those_fields_are_served()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = WithFields("""{"tools":[],"tool_choice":"auto","reasoning":null,"store":false,"previous_response_id":null,"background":false,"include":[],"top_logprobs":0,"text":{"format":{"type":"text"}},"parallel_tool_calls":true}""");

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("""{"model":"stories260K"}""", "input", "missing_required_parameter")]
    [InlineData("""{"model":"stories260K","input":5}""", "input", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":[]}""", "input", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":{"role":"user","content":"a"}}""", "input", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":[5]}""", "input[0]", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":[{"type":7,"role":"user","content":"a"}]}""", "input[0].type", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":[{"role":"tool","content":"a"}]}""", "input[0].role", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":[{"content":"a"}]}""", "input[0].role", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":[{"role":"user"}]}""", "input[0].content", "missing_required_parameter")]
    [InlineData("""{"model":"stories260K","input":[{"role":"user","content":7}]}""", "input[0].content", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":[{"role":"user","content":[{"type":"text","text":"a"}]}]}""", "input[0].content", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":[{"role":"user","content":[{"type":"input_text"}]}]}""", "input[0].content", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":"a","instructions":5}""", "instructions", "invalid_json")]
    [InlineData("""{"model":"stories260K","input":"a","max_output_tokens":0}""", "max_output_tokens", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":"a","max_output_tokens":1.5}""", "max_output_tokens", "invalid_json")]
    [InlineData("""{"model":"stories260K","input":"a","temperature":3}""", "temperature", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":"a","top_p":-1}""", "top_p", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":"a","text":"json"}""", "text", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":"a","text":{"format":"json"}}""", "text.format", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":"a","metadata":{"k":1}}""", "metadata.k", "invalid_json")]
    [InlineData("""{"model":"stories260K","input":"a","metadata":{"k":null}}""", "metadata.k", "invalid_value")] // a 500 before (found by the fuzzer)
    [InlineData("""{"model":"stories260K","input":"a","store":"no"}""", "store", "invalid_json")]
    [InlineData("""{"input":"a"}""", "model", "missing_required_parameter")]
    [InlineData("""{"model":"stories260K","input":"a","top_logprobs":21}""", "top_logprobs", "invalid_value")]
    [InlineData("""{"model":"stories260K","input":"a","top_logprobs":"2"}""", "top_logprobs", "invalid_value")]
    [InlineData("""[1,2]""", null, "invalid_json")]
    public async Task A_malformed_body_is_400_naming_where(string body, string? param, string code)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(body));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, code: code);
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal("none", response.Headers.GetValues("X-InferenceMesh-Backend").Single()); // refused before the engine
    }

    [Fact]
    public async Task Chat_sampling_extensions_apply_and_chat_only_limits_are_not_read()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var stop = TestPaths.Stories260KGreedyContinuation.Substring(30, 6);
        var body = $$"""{"model":"stories260K","input":"Once upon a time","temperature":0,"stop":"{{stop}}","max_tokens":1,"max_output_tokens":64}""";

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(body));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        Assert.Equal("completed", json.RootElement.GetProperty("status").GetString());
        Assert.Equal(TestPaths.Stories260KGreedyContinuation[..30], json.RootElement.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("GET", "/v1/responses/resp_0123", "response_not_found")]
    [InlineData("DELETE", "/v1/responses/resp_0123", "response_not_found")]
    [InlineData("GET", "/v1/responses/resp_0123/input_items", "response_not_found")]
    [InlineData("POST", "/v1/responses/resp_0123/cancel", "response_not_found")]
    public async Task The_urls_of_a_response_that_is_not_stored_are_404_in_openai_shape(string method, string url, string code)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), url));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.NotFound, code: code);
    }

    [Fact]
    public async Task A_stored_response_is_fetched_chained_with_previous_response_id_and_deleted()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var client = Client(environment);

        ResponseResult first = await client.CreateResponseAsync(Greedy(12, ResponseItem.CreateUserMessageItem(Prompt))); // stored by default, as on OpenAI
        ResponseResult fetched = await client.GetResponseAsync(first.Id);

        Assert.Equal(first.Id, fetched.Id);
        using (var raw = await environment.Http.GetAsync($"/v1/responses/{first.Id}"))
        {
            Assert.True(JsonDocument.Parse(await raw.Content.ReadAsStringAsync()).RootElement.GetProperty("store").GetBoolean());
        }

        Assert.Equal(first.GetOutputText(), fetched.GetOutputText());
        Assert.Equal(first.Usage.OutputTokenCount, fetched.Usage.OutputTokenCount);

        // The next turn names the first: its model sees what chat completions would see with the whole history.
        var second = Greedy(12, ResponseItem.CreateUserMessageItem("What happened next?"));
        second.PreviousResponseId = first.Id;
        ResponseResult chained = await client.CreateResponseAsync(second);
        ChatCompletion chat = await environment.OpenAi.GetChatClient(TestEnvironment.Stories).CompleteChatAsync(
            [new UserChatMessage(Prompt), new AssistantChatMessage(first.GetOutputText()), new UserChatMessage("What happened next?")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 });
        Assert.Equal(first.Id, chained.PreviousResponseId);
        Assert.Equal(chat.Content[0].Text, chained.GetOutputText());
        Assert.Equal(chat.Usage.InputTokenCount, chained.Usage.InputTokenCount);

        // Streamed turns are stored too, once their last event is out.
        var streamedOptions = Greedy(4, ResponseItem.CreateUserMessageItem(Prompt));
        var (_, streamed, _) = await StreamAsync(client, streamedOptions);
        Assert.Equal(streamed.GetOutputText(), (await client.GetResponseAsync(streamed.Id)).Value.GetOutputText());

        var deleted = await client.DeleteResponseAsync(first.Id);
        Assert.True(deleted.Value.Deleted);
        var gone = await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() => client.GetResponseAsync(first.Id));
        Assert.Equal(404, gone.Status);

        using var unknown = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(WithFields($$"""{"previous_response_id":"{{first.Id}}"}""")));
        await ApiAssert.ErrorAsync(unknown, HttpStatusCode.BadRequest, param: "previous_response_id", code: "previous_response_not_found");
    }

    [Fact]
    public async Task Store_false_keeps_nothing()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var options = Greedy(3, ResponseItem.CreateUserMessageItem(Prompt));
        options.StoredOutputEnabled = false;

        ResponseResult response = await Client(environment).CreateResponseAsync(options);

        using var fetched = await environment.Http.GetAsync($"/v1/responses/{response.Id}");
        await ApiAssert.ErrorAsync(fetched, HttpStatusCode.NotFound, code: "response_not_found");
    }

    [Fact]
    public async Task More_metadata_than_openai_allows_is_400()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var metadata = string.Join(",", Enumerable.Range(0, 17).Select(i => $"\"k{i}\":\"v\""));

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(WithFields("{\"metadata\":{" + metadata + "}}")));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "metadata", code: "invalid_value");
    }

    [Fact]
    public async Task A_client_leaving_the_stream_frees_its_slot()
    {
        await using var environment = await TestEnvironment.StartAsync(e => { e.ContextLength = 4096; e.Slots = 1; });

        // End-of-generation (token 2) is banned (logit_bias, our extension as on chat) so the story runs to 4000 tokens unless cancelled.
        var body = """{"model":"stories260K","input":"Once upon a time","max_output_tokens":4000,"temperature":0,"logit_bias":{"2":-100},"stream":true}""";
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = ApiAssert.Json(body) })
        using (var response = await environment.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            string? line;
            while ((line = await reader.ReadLineAsync()) is not null && line != "event: response.output_text.delta")
            {
            }

            Assert.Equal("event: response.output_text.delta", line);
        }

        await SlotStates.WaitIdleAfterCancelAsync(environment);

        // The freed slot serves the next request.
        using var next = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(WithFields("{}")));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    /// <summary>A small valid body with <paramref name="fields"/> (a JSON object) added; their <c>input</c> replaces the default one.</summary>
    private static string WithFields(string fields)
    {
        var defaults = fields.Contains("\"input\"", StringComparison.Ordinal)
            ? """{"model":"stories260K","max_output_tokens":2"""
            : """{"model":"stories260K","input":"Once upon a time","max_output_tokens":2""";
        return fields == "{}" ? defaults + "}" : defaults + "," + fields[1..];
    }

    /// <summary>Streams with the official client: the text of the deltas, the final response, every update's sequence number.</summary>
    private static async Task<(string Text, ResponseResult Response, List<int> Sequence)> StreamAsync(ResponsesClient client, CreateResponseOptions options)
    {
        var text = new StringBuilder();
        ResponseResult? final = null;
        var sequence = new List<int>();
        options.StreamingEnabled = true;
        await foreach (var update in client.CreateResponseStreamingAsync(options))
        {
            sequence.Add(update.SequenceNumber);
            switch (update)
            {
                case StreamingResponseOutputTextDeltaUpdate delta:
                    text.Append(delta.Delta);
                    break;
                case StreamingResponseCompletedUpdate completed:
                    final = completed.Response;
                    break;
                case StreamingResponseIncompleteUpdate incomplete:
                    final = incomplete.Response;
                    break;
            }
        }

        Assert.NotNull(final);
        return (text.ToString(), final, sequence);
    }
}
