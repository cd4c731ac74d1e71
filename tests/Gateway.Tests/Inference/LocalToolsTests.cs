using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using OpenAI.Chat;

namespace InferenceMesh.Gateway.Tests.Inference;

/// <summary>
/// Tool calls on the local model through the official client. stories260K writes stories and knows nothing of tools,
/// so every well-formed call here (a known name, arguments that parse and fit the function's schema) is the grammar's
/// doing; what the model puts inside is noise.
/// </summary>
public sealed class LocalToolsTests
{
    private static readonly ChatTool Weather = ChatTool.CreateFunctionTool("get_weather", "Current weather in a city.", BinaryData.FromString("""
        {"type":"object","properties":{"city":{"type":"string","maxLength":12},"unit":{"$ref":"#/$defs/unit"}},
         "required":["city","unit"],"additionalProperties":false,"$defs":{"unit":{"enum":["celsius","fahrenheit"]}}}
        """));

    private static readonly ChatTool Time = ChatTool.CreateFunctionTool("get_time", "Local time in a time zone.", BinaryData.FromString("""
        {"type":"object","properties":{"zone":{"type":"string","maxLength":8,"format":"tz"},"hours":{"type":"integer","minimum":0}},"required":["zone","hours"]}
        """));

    private static readonly ChatMessage[] Question = [new SystemChatMessage("You are helpful."), new UserChatMessage("What is the weather in Paris?")];

    [Fact]
    public async Task Required_gives_well_formed_calls_streamed_or_not()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        // Up to 8 calls in one answer (a model that knows no better goes on to the last): room for them all.
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 1500, ToolChoice = ChatToolChoice.CreateRequiredChoice(), Tools = { Weather, Time } };

        ChatCompletion completion = await chat.CompleteChatAsync(Question, options);
        var streamed = new SortedDictionary<int, (string? Id, string? Name, StringBuilder Arguments)>();
        ChatFinishReason? streamedFinish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(Question, options))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                var entry = streamed.TryGetValue(call.Index, out var known) ? known : (call.ToolCallId, call.FunctionName, new StringBuilder());
                entry.Item3.Append(call.FunctionArgumentsUpdate?.ToString());
                streamed[call.Index] = entry;
            }

            streamedFinish = update.FinishReason ?? streamedFinish;
        }

        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        Assert.NotEmpty(completion.ToolCalls);
        Assert.All(completion.ToolCalls, call =>
        {
            Assert.StartsWith("call_", call.Id);
            CheckArguments(call.FunctionName, call.FunctionArguments.ToString());
        });
        Assert.Equal(ChatFinishReason.ToolCalls, streamedFinish);
        Assert.Equal(completion.ToolCalls.Select(c => (c.FunctionName, c.FunctionArguments.ToString())), streamed.Values.Select(c => (c.Name!, c.Arguments.ToString())));
        Assert.All(streamed.Values, c => Assert.StartsWith("call_", c.Id));
    }

    [Fact]
    public async Task A_named_function_is_the_one_called_and_parallel_false_makes_one_call()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        var options = new ChatCompletionOptions
        {
            Temperature = 0, MaxOutputTokenCount = 400, Tools = { Weather, Time }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_time"), AllowParallelToolCalls = false,
        };

        ChatCompletion completion = await chat.CompleteChatAsync(Question, options);

        var call = Assert.Single(completion.ToolCalls);
        CheckArguments("get_time", call.FunctionArguments.ToString());
        Assert.Equal("get_time", call.FunctionName);
    }

    [Fact]
    public async Task Auto_answers_with_text_or_calls_and_a_cut_answer_keeps_what_it_held()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);

        ChatCompletion auto = await chat.CompleteChatAsync(Question, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 1500, Tools = { Weather } });
        ChatCompletion cut = await chat.CompleteChatAsync(Question, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 3, Tools = { Weather } });

        if (auto.FinishReason == ChatFinishReason.ToolCalls)
        {
            Assert.All(auto.ToolCalls, c => CheckArguments(c.FunctionName, c.FunctionArguments.ToString()));
        }
        else if (auto.FinishReason == ChatFinishReason.Length)
        {
            Assert.DoesNotContain("\"response\"", Text(auto)); // cut, it keeps what it had (the calls begun or the text so far)
        }
        else
        {
            Assert.Equal(ChatFinishReason.Stop, auto.FinishReason);
            Assert.Empty(auto.ToolCalls);
            Assert.DoesNotContain("\"response\"", auto.Content[0].Text); // the envelope is unwrapped
        }

        // Three tokens are not even the envelope's first key: nothing to give, and never the envelope's raw JSON.
        Assert.Equal(ChatFinishReason.Length, cut.FinishReason);
        Assert.Empty(cut.ToolCalls);
        Assert.Equal(string.Empty, Text(cut));
    }

    [Fact]
    public async Task A_streamed_call_comes_in_pieces_as_it_is_written_and_adds_up_to_the_whole_answer()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        var options = new ChatCompletionOptions
        {
            Temperature = 0, MaxOutputTokenCount = 400, Tools = { Weather, Time }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather"), AllowParallelToolCalls = false,
        };

        ChatCompletion completion = await chat.CompleteChatAsync(Question, options);
        var updates = await StreamAsync(chat, options);

        var whole = Assert.Single(completion.ToolCalls);
        var first = updates.SelectMany(u => u.ToolCallUpdates).First();
        Assert.Equal(0, first.Index);
        Assert.StartsWith("call_", first.ToolCallId);
        Assert.Equal("get_weather", first.FunctionName);
        Assert.Equal(string.Empty, first.FunctionArgumentsUpdate?.ToString() ?? string.Empty);
        Assert.All(updates.SelectMany(u => u.ToolCallUpdates).Skip(1), u => Assert.True(u.Index == 0 && u.ToolCallId is null && u.FunctionName is null));
        // Before the finish, the arguments came in more than one update: they were passed on as the model wrote them.
        var fragments = updates.Where(u => u.FinishReason is null).Select(Arguments).Where(a => a.Length > 0).ToList();
        Assert.True(fragments.Count > 1, $"{fragments.Count} argument updates");
        Assert.Equal(whole.FunctionArguments.ToString(), string.Concat(fragments));
        CheckArguments("get_weather", string.Concat(fragments));
        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        Assert.Equal(ChatFinishReason.ToolCalls, updates.Last(u => u.FinishReason is not null).FinishReason);
    }

    [Fact]
    public async Task A_call_cut_by_max_tokens_keeps_what_was_streamed_and_the_whole_answer_is_the_same()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        // 65 tokens end inside the arguments of stories260K's greedy call (96 tokens whole).
        var options = new ChatCompletionOptions
        {
            Temperature = 0, MaxOutputTokenCount = 65, Tools = { Weather }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather"), AllowParallelToolCalls = false,
        };

        ChatCompletion completion = await chat.CompleteChatAsync(Question, options);
        var updates = await StreamAsync(chat, options);

        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(ChatFinishReason.Length, updates.Last(u => u.FinishReason is not null).FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        var streamed = string.Concat(updates.Select(Arguments));
        Assert.Equal(call.FunctionArguments.ToString(), streamed);
        Assert.StartsWith("{", streamed);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(streamed)); // cut mid-way, as the finish reason says
        Assert.Equal("get_weather", Assert.Single(updates.SelectMany(u => u.ToolCallUpdates), u => u.FunctionName is not null).FunctionName);
    }

    [Fact]
    public async Task Stop_strings_never_cut_the_tool_call_envelope_streamed_or_not()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        ChatCompletionOptions Options() => new()
        {
            Temperature = 0, MaxOutputTokenCount = 400, Tools = { Weather }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather"), AllowParallelToolCalls = false,
        };
        var withStops = Options();
        foreach (var stop in new[] { "\"", "{", "city", "name" }) // all of them in the envelope's JSON, the first at its second character
        {
            withStops.StopSequences.Add(stop);
        }

        ChatCompletion plain = await chat.CompleteChatAsync(Question, Options());
        ChatCompletion stopped = await chat.CompleteChatAsync(Question, withStops);
        var updates = await StreamAsync(chat, withStops);

        // Matched on the model's raw text they cut the envelope at its first quote: no call, finish "stop".
        var call = Assert.Single(plain.ToolCalls);
        CheckArguments("get_weather", call.FunctionArguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, stopped.FinishReason);
        Assert.Equal([("get_weather", call.FunctionArguments.ToString())], stopped.ToolCalls.Select(c => (c.FunctionName, c.FunctionArguments.ToString())));
        Assert.Equal(ChatFinishReason.ToolCalls, updates.Last(u => u.FinishReason is not null).FinishReason);
        Assert.Equal("get_weather", Assert.Single(updates.SelectMany(u => u.ToolCallUpdates), u => u.FunctionName is not null).FunctionName);
        Assert.Equal(call.FunctionArguments.ToString(), string.Concat(updates.Select(Arguments)));
        Assert.Equal(plain.Usage.OutputTokenCount, stopped.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task A_streamed_tool_answer_is_strict_sse_and_each_call_begins_with_its_name_and_empty_arguments()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = """
            {"model":"MODEL","stream":true,"temperature":0,"max_tokens":400,"parallel_tool_calls":false,"tool_choice":"required",
             "stream_options":{"include_usage":true},"messages":[{"role":"user","content":"What is the weather in Paris?"}],
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":12}},"required":["city"]}}}]}
            """.Replace("MODEL", TestEnvironment.Stories, StringComparison.Ordinal);

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = Sse.ParseStrict(await response.Content.ReadAsStringAsync());
        var calls = events.Where(e => e.GetProperty("choices").GetArrayLength() > 0)
            .Select(e => e.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("tool_calls", out _))
            .Select(d => Assert.Single(d.GetProperty("tool_calls").EnumerateArray()))
            .ToList();
        Assert.True(calls.Count > 2, $"{calls.Count} tool call deltas");
        var head = calls[0];
        Assert.Equal(0, head.GetProperty("index").GetInt32());
        Assert.StartsWith("call_", head.GetProperty("id").GetString());
        Assert.Equal("function", head.GetProperty("type").GetString());
        Assert.Equal("get_weather", head.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal(string.Empty, head.GetProperty("function").GetProperty("arguments").GetString());
        Assert.All(calls.Skip(1), c => Assert.Equal(["index", "function"], c.EnumerateObject().Select(p => p.Name)));
        Assert.All(calls.Skip(1), c => Assert.Equal(["arguments"], c.GetProperty("function").EnumerateObject().Select(p => p.Name)));
        using var arguments = JsonDocument.Parse(string.Concat(calls.Select(c => c.GetProperty("function").GetProperty("arguments").GetString())));
        Assert.Equal(JsonValueKind.String, arguments.RootElement.GetProperty("city").ValueKind);
        Assert.Equal("tool_calls", Sse.FinishReason(events));
        Assert.Equal(string.Empty, Sse.Text(events)); // the envelope never reaches the client
        Assert.Equal(0, events[^1].GetProperty("choices").GetArrayLength()); // the usage chunk
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Logprobs_with_tools_are_refused_streamed_or_not(bool stream)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await ChatFields.PostAsync(environment,
            $$$"""{"stream":{{{(stream ? "true" : "false")}}},"logprobs":true,"tools":[{"type":"function","function":{"name":"f"}}]}""");

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: "logprobs", code: "unsupported_parameter");
    }

    [Fact]
    public async Task A_conversation_with_earlier_calls_and_their_results_goes_on()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        var call = ChatToolCall.CreateFunctionToolCall("call_1", "get_weather", BinaryData.FromString("""{"city":"Paris","unit":"celsius"}"""));
        ChatMessage[] messages = [.. Question, new AssistantChatMessage([call]), new ToolChatMessage("call_1", "18 degrees and sunny")];

        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 300, Tools = { Weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice(), AllowParallelToolCalls = false };

        ChatCompletion completion = await chat.CompleteChatAsync(messages, options);

        CheckArguments("get_weather", Assert.Single(completion.ToolCalls).FunctionArguments.ToString());
    }

    [Theory]
    [InlineData("""{"tool_choice":"required"}""", "tool_choice")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}""", "tool_choice")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}""", "tool_choice")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"bad name!"}}]}""", "tools[0].function.name")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]}""", "tools[1].function.name")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f","parameters":[1]}}]}""", "tools[0].function.parameters")]
    [InlineData("""{"tools":"get_weather"}""", "tools")]
    public async Task Malformed_tool_fields_are_a_400_naming_them(string fields, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await ChatFields.PostAsync(environment, fields);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "invalid_value");
    }

    [Fact]
    public async Task Tools_and_a_json_response_format_at_once_are_refused()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var options = new ChatCompletionOptions { Tools = { Weather }, ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() };

        var error = await Assert.ThrowsAsync<ClientResultException>(() => environment.OpenAi.GetChatClient(TestEnvironment.Stories).CompleteChatAsync(Question, options));

        Assert.Equal(400, error.Status);
        Assert.Contains("response_format", error.Message);
    }

    private static async Task<List<StreamingChatCompletionUpdate>> StreamAsync(ChatClient chat, ChatCompletionOptions options)
    {
        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in chat.CompleteChatStreamingAsync(Question, options))
        {
            updates.Add(update);
        }

        return updates;
    }

    private static string Arguments(StreamingChatCompletionUpdate update) => string.Concat(update.ToolCallUpdates.Select(c => c.FunctionArgumentsUpdate?.ToString()));

    private static string Text(ChatCompletion completion) => string.Concat(completion.Content.Select(p => p.Text));

    /// <summary>The arguments parse and fit the function's schema as far as the grammar enforces it.</summary>
    private static void CheckArguments(string name, string arguments)
    {
        using var json = JsonDocument.Parse(arguments);
        var root = json.RootElement;
        switch (name)
        {
            case "get_weather":
                Assert.InRange(root.GetProperty("city").GetString()!.Length, 0, 12);
                Assert.Contains(root.GetProperty("unit").GetString(), new[] { "celsius", "fahrenheit" });
                Assert.All(root.EnumerateObject(), p => Assert.Contains(p.Name, new[] { "city", "unit" }));
                break;
            case "get_time":
                Assert.InRange(root.GetProperty("zone").GetString()!.Length, 0, 8);
                Assert.True(root.GetProperty("hours").TryGetInt64(out _), arguments);
                break;
            default:
                Assert.Fail("unknown function " + name);
                break;
        }
    }
}
