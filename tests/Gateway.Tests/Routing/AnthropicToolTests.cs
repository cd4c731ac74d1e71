using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Backends.Anthropic;
using InferenceMesh.Gateway.Tests.Common;
using OpenAI.Chat;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// OpenAI tools through the Anthropic backend, driven by the official OpenAI client: tools and tool choice translated to the
/// Messages API, tool_use answers back as tool_calls (streamed and not), and the round trip of a call and its result.
/// </summary>
public sealed class AnthropicToolTests : IAsyncLifetime
{
    private const string Schema = """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""";
    private readonly RoutingHarness _harness = new();
    private LoopbackAnthropicUpstream _upstream = null!;

    private static ChatTool Weather => ChatTool.CreateFunctionTool("get_weather", "Current weather in a city.", BinaryData.FromString(Schema));

    private static ChatTool Time => ChatTool.CreateFunctionTool("get_time", "Local time in a city.", BinaryData.FromString(Schema));

    private ChatClient Chat => _harness.Gateway.OpenAi.GetChatClient("auto");

    public async Task InitializeAsync()
    {
        _upstream = await LoopbackAnthropicUpstream.StartAsync();
        _harness.OtherBackends.Add(("claude", "anthropic", _upstream.BaseAddress.ToString(), 0.95, "sk-ant-test-key"));
        await _harness.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task Tool_calls_and_their_results_make_a_full_round_trip()
    {
        _upstream.Respond = LoopbackAnthropicUpstream.Json(200, AnthropicScript.ToolUseMessage(
            "Let me check.", ("toolu_01", "get_weather", """{"city":"Paris"}"""), ("toolu_02", "get_time", """{"city":"Paris"}""")));
        List<ChatMessage> messages = [new UserChatMessage(RoutingHarness.PublicPrompt)];
        var options = new ChatCompletionOptions { Tools = { Weather, Time } };

        ChatCompletion call = await Chat.CompleteChatAsync(messages, options);

        Assert.Equal(ChatFinishReason.ToolCalls, call.FinishReason);
        Assert.Equal("Let me check.", Assert.Single(call.Content).Text);
        Assert.Collection(call.ToolCalls,
            c => Assert.Equal(("toolu_01", ChatToolCallKind.Function, "get_weather", "Paris"), (c.Id, c.Kind, c.FunctionName, City(c.FunctionArguments))),
            c => Assert.Equal(("toolu_02", ChatToolCallKind.Function, "get_time", "Paris"), (c.Id, c.Kind, c.FunctionName, City(c.FunctionArguments))));
        var first = Assert.Single(_upstream.Requests).Json;
        Assert.Equal(
            """[{"name":"get_weather","description":"Current weather in a city.","input_schema":""" + Schema + """},{"name":"get_time","description":"Local time in a city.","input_schema":""" + Schema + "}]",
            first.GetProperty("tools").GetRawText());
        Assert.False(first.TryGetProperty("tool_choice", out _)); // none asked: Anthropic's default is auto

        // The client runs both tools and sends the results back with the assistant's turn.
        messages.Add(new AssistantChatMessage(call));
        messages.Add(new ToolChatMessage("toolu_01", "18 C, sunny"));
        messages.Add(new ToolChatMessage("toolu_02", "14:05"));
        _upstream.Respond = LoopbackAnthropicUpstream.Json(200,
            """{"id":"msg_03","type":"message","role":"assistant","model":"claude-test-1","content":[{"type":"text","text":"Sunny, 18 C, at 14:05."}],"stop_reason":"end_turn","usage":{"input_tokens":40,"output_tokens":9}}""");

        ChatCompletion answer = await Chat.CompleteChatAsync(messages, options);

        Assert.Equal(ChatFinishReason.Stop, answer.FinishReason);
        Assert.Equal("Sunny, 18 C, at 14:05.", Assert.Single(answer.Content).Text);
        Assert.Empty(answer.ToolCalls);
        var second = _upstream.Requests.Last().Json;
        Assert.Equal(
            """[{"role":"user","content":"What is the capital of France?"},"""
            + """{"role":"assistant","content":[{"type":"text","text":"Let me check."},{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}},{"type":"tool_use","id":"toolu_02","name":"get_time","input":{"city":"Paris"}}]},"""
            + """{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"18 C, sunny"},{"type":"tool_result","tool_use_id":"toolu_02","content":"14:05"}]}]""",
            second.GetProperty("messages").GetRawText());
    }

    [Fact]
    public async Task A_round_trip_that_drops_the_tools_for_the_final_answer_gets_a_text_answer()
    {
        // Some agents send the tool results without tools, to get a text answer; Anthropic refuses tool blocks without tools.
        _upstream.Respond = LoopbackAnthropicUpstream.Json(200,
            """{"id":"msg_03","type":"message","role":"assistant","model":"claude-test-1","content":[{"type":"text","text":"Sunny."}],"stop_reason":"end_turn","usage":{"input_tokens":40,"output_tokens":2}}""");
        List<ChatMessage> messages =
        [
            new UserChatMessage(RoutingHarness.PublicPrompt),
            new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall("toolu_01", "get_weather", BinaryData.FromString("""{"city":"Paris"}"""))]),
            new ToolChatMessage("toolu_01", "18 C, sunny"),
        ];

        ChatCompletion answer = await Chat.CompleteChatAsync(messages);

        Assert.Equal("Sunny.", Assert.Single(answer.Content).Text);
        var sent = _upstream.SingleRequest.Json;
        Assert.Equal("""[{"name":"get_weather","input_schema":{"type":"object","properties":{}}}]""", sent.GetProperty("tools").GetRawText());
        Assert.Equal("""{"type":"none"}""", sent.GetProperty("tool_choice").GetRawText()); // declared for the history, never offered
    }

    [Theory]
    [InlineData("required", false, """{"type":"any"}""")]
    [InlineData("function", false, """{"type":"tool","name":"get_time"}""")]
    [InlineData("auto", true, """{"type":"auto","disable_parallel_tool_use":true}""")]
    [InlineData(null, true, """{"type":"auto","disable_parallel_tool_use":true}""")]
    [InlineData("none", false, """{"type":"none"}""")]
    public async Task Tool_choice_and_parallel_tool_calls_reach_the_upstream_translated(string? choice, bool oneCallOnly, string expected)
    {
        _upstream.Respond = LoopbackAnthropicUpstream.Json(200, AnthropicScript.ToolUseMessage(null, ("toolu_01", "get_time", """{"city":"Oslo"}""")));
        var options = new ChatCompletionOptions
        {
            Tools = { Weather, Time },
            ToolChoice = choice switch
            {
                "required" => ChatToolChoice.CreateRequiredChoice(),
                "function" => ChatToolChoice.CreateFunctionChoice("get_time"),
                "auto" => ChatToolChoice.CreateAutoChoice(),
                "none" => ChatToolChoice.CreateNoneChoice(),
                _ => null,
            },
            AllowParallelToolCalls = oneCallOnly ? false : null,
        };

        ChatCompletion completion = await Chat.CompleteChatAsync([new UserChatMessage(RoutingHarness.PublicPrompt)], options);

        Assert.Equal(expected, _upstream.SingleRequest.Json.GetProperty("tool_choice").GetRawText());
        Assert.Empty(completion.Content); // content null: the model only called a tool
        Assert.Equal("get_time", Assert.Single(completion.ToolCalls).FunctionName);
    }

    [Fact]
    public async Task A_streamed_tool_call_reaches_the_client_as_tool_call_updates()
    {
        _upstream.Respond = LoopbackAnthropicUpstream.Events(AnthropicScript.ToolUseStream(
            "Checking.",
            ("toolu_01", "get_weather", ["", """{"city":""", """ "Pa""", """ris"}"""]),
            ("toolu_02", "get_time", ["""{"city":"Paris"}"""])));
        var (text, calls, finish) = await StreamAsync();

        Assert.Equal("Checking.", text);
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        // Indexes count tool calls only: the text block before them (Anthropic's block 0) does not shift them.
        Assert.Equal([0, 1], calls.Keys);
        Assert.Equal(("toolu_01", "get_weather", """{"city": "Paris"}"""), calls[0]);
        Assert.Equal(("toolu_02", "get_time", """{"city":"Paris"}"""), calls[1]);
        var sent = _upstream.SingleRequest.Json;
        Assert.True(sent.GetProperty("stream").GetBoolean());
        Assert.Equal(2, sent.GetProperty("tools").GetArrayLength());
    }

    [Fact]
    public async Task A_streamed_call_without_arguments_gets_an_empty_object_as_unstreamed()
    {
        // A tool without parameters: Anthropic starts the block with input {} and sends no (or an empty) input_json_delta.
        _upstream.Respond = LoopbackAnthropicUpstream.Events(AnthropicScript.ToolUseStream(null, ("toolu_01", "get_time", []), ("toolu_02", "get_time", [""])));

        var (_, calls, finish) = await StreamAsync();

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal([("toolu_01", "get_time", "{}"), ("toolu_02", "get_time", "{}")], calls.Values);
    }

    [Fact]
    public async Task An_emoji_split_across_two_argument_fragments_reaches_the_client_whole()
    {
        _upstream.Respond = LoopbackAnthropicUpstream.Events(
        [
            ("message_start", AnthropicScript.MessageStart),
            AnthropicScript.ToolUseStart(0, "toolu_01", "get_weather"),
            ("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\":\"Paris \ud83d"}}"""),
            ("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\ude00\"}"}}"""),
            ("content_block_stop", AnthropicScript.BlockStop),
            AnthropicScript.MessageDelta("tool_use", 9),
            ("message_stop", AnthropicScript.MessageStop),
        ]);

        var (_, calls, _) = await StreamAsync();

        Assert.Equal("Paris \U0001F600", City(BinaryData.FromString(Assert.Single(calls.Values).Arguments)));
    }

    [Fact]
    public async Task A_malformed_event_in_a_tool_call_ends_the_stream_with_an_error_event_and_done()
    {
        _upstream.Respond = LoopbackAnthropicUpstream.Events(
        [
            ("message_start", AnthropicScript.MessageStart),
            AnthropicScript.ToolUseStart(0, "toolu_01", "get_weather"),
            ("content_block_delta", AnthropicScript.InputJsonDelta(0, """{"city":""")),
            ("content_block_delta", AnthropicScript.InputJsonDelta(3, "\"Paris\"}")), // no tool_use block 3
            ("content_block_stop", AnthropicScript.BlockStop),
            AnthropicScript.MessageDelta("tool_use", 9),
            ("message_stop", AnthropicScript.MessageStop),
        ]);

        var (response, body) = await _harness.SendAsync(ToolRequest(stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        var events = Sse.ParseStrict(body); // data: lines only, ending with [DONE]
        var toolChunks = events.Where(e => e.TryGetProperty("choices", out var c) && c.GetArrayLength() > 0
            && c[0].GetProperty("delta").TryGetProperty("tool_calls", out _)).ToList();
        Assert.Equal(2, toolChunks.Count);
        Assert.Equal("""[{"index":0,"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":""}}]""",
            toolChunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls").GetRawText());
        var fragment = toolChunks[1].GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls")[0];
        Assert.Equal((0, false, false), (fragment.GetProperty("index").GetInt32(), fragment.TryGetProperty("id", out _), fragment.GetProperty("function").TryGetProperty("name", out _)));
        Assert.Equal("""{"city":""", fragment.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Null(Sse.FinishReason(events)); // never a finished tool call
        Assert.Equal("stream_interrupted", events[^1].GetProperty("error").GetProperty("code").GetString());
        Assert.Null(_harness.Engine.Model.LastRequest); // a tool call is not continued as local free text
    }

    [Fact]
    public async Task Tool_call_arguments_that_are_not_a_json_object_are_a_400_naming_them()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ApiAssert.Json($$$"""
                {"model":"auto","tools":[{{{ToolJson}}}],"messages":[
                  {"role":"user","content":"{{{RoutingHarness.PublicPrompt}}}"},
                  {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"[\"Paris\"]"}}]},
                  {"role":"tool","tool_call_id":"call_1","content":"sunny"}]}
                """),
        };

        using var response = await _harness.Http.SendAsync(request);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "messages[1].tool_calls[0].function.arguments", code: "invalid_value");
        Assert.Empty(_upstream.Requests);
    }

    [Theory]
    [InlineData("\"logprobs\":true", "logprobs")]
    [InlineData("\"tools\":[{\"type\":\"custom\",\"custom\":{\"name\":\"grep\"}}]", "tools[0].type")]
    public async Task What_the_only_backend_of_the_plan_cannot_carry_is_a_400_saying_what_not_a_502(string field, string param)
    {
        // A model only the Anthropic backend offers: the plan has no other step to answer instead.
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ApiAssert.Json($$$"""{"model":"claude-test-1",{{{field}}},"messages":[{"role":"user","content":"{{{RoutingHarness.PublicPrompt}}}"}]}"""),
        };

        using var response = await _harness.Http.SendAsync(request);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "unsupported_by_backend");
        Assert.Empty(_upstream.Requests);
    }

    [Theory]
    [InlineData("tool_result")]
    [InlineData("tool_arguments")]
    [InlineData("tool_description")]
    public async Task Confidential_text_anywhere_in_the_tool_fields_keeps_the_request_away_from_anthropic(string where)
    {
        // The router classifies before any translation; tools never change where a request may go.
        var card = JsonSerializer.Serialize(RoutingHarness.Card);
        var tool = where == "tool_description"
            ? $$$"""{"type":"function","function":{"name":"charge","description":{{{JsonSerializer.Serialize("Charges card " + RoutingHarness.Card)}}},"parameters":{{{Schema}}}}}"""
            : ToolJson;
        var arguments = JsonSerializer.Serialize(JsonSerializer.Serialize(new { city = where == "tool_arguments" ? RoutingHarness.Card : "Paris" }));
        var result = where == "tool_result" ? card : "\"sunny\"";
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ApiAssert.Json($$$"""
                {"model":"auto","tools":[{{{tool}}}],"messages":[
                  {"role":"user","content":"{{{RoutingHarness.PublicPrompt}}}"},
                  {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":{{{arguments}}}}}]},
                  {"role":"tool","tool_call_id":"call_1","content":{{{result}}}}]}
                """),
        };

        var (response, body) = await _harness.SendAsync(request);

        Assert.Empty(_upstream.Requests);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.True(response.StatusCode == HttpStatusCode.OK, body); // the local model answers with its own tool calling
        var prompt = _harness.Engine.Model.LastRequest!.Prompt;
        Assert.Contains("You can call these tools", prompt);
        Assert.Contains("""{"tool_calls":[{"name":"get_weather","arguments":{"city":""", prompt); // its earlier call, in the local format
    }

    private const string ToolJson = """{"type":"function","function":{"name":"get_weather","description":"Current weather in a city.","parameters":""" + Schema + "}}";

    private static HttpRequestMessage ToolRequest(bool stream) => new(HttpMethod.Post, "/v1/chat/completions")
    {
        Content = ApiAssert.Json($$"""{"model":"auto","stream":{{(stream ? "true" : "false")}},"tools":[{{ToolJson}}],"messages":[{"role":"user","content":"{{RoutingHarness.PublicPrompt}}"}]}"""),
    };

    /// <summary>Streams a chat with the weather and time tools through the official client; the text, each tool call by index, the finish reason.</summary>
    private async Task<(string Text, SortedDictionary<int, (string? Id, string? Name, string Arguments)> Calls, ChatFinishReason? Finish)> StreamAsync()
    {
        var text = new System.Text.StringBuilder();
        var calls = new SortedDictionary<int, (string? Id, string? Name, string Arguments)>();
        ChatFinishReason? finish = null;
        await foreach (var update in Chat.CompleteChatStreamingAsync([new UserChatMessage(RoutingHarness.PublicPrompt)], new ChatCompletionOptions { Tools = { Weather, Time } }))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            foreach (var toolCall in update.ToolCallUpdates)
            {
                var known = calls.GetValueOrDefault(toolCall.Index, (null, null, string.Empty));
                if (toolCall.ToolCallId is not null)
                {
                    Assert.Null(known.Id); // id and name come once, in the first update of the call
                    Assert.Equal(ChatToolCallKind.Function, toolCall.Kind);
                    known = (toolCall.ToolCallId, toolCall.FunctionName, known.Arguments);
                }

                calls[toolCall.Index] = known with { Arguments = known.Arguments + toolCall.FunctionArgumentsUpdate?.ToString() };
            }

            finish = update.FinishReason ?? finish;
        }

        return (text.ToString(), calls, finish);
    }

    private static string? City(BinaryData arguments) => JsonDocument.Parse(arguments).RootElement.GetProperty("city").GetString();
}
