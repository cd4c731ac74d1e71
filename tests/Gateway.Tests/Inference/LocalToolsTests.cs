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
    public async Task Auto_answers_with_text_or_calls_and_a_cut_answer_comes_back_as_text()
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
            Assert.StartsWith("{", auto.Content[0].Text); // a text answer can run on (its string is unbounded): cut, it comes as it is
        }
        else
        {
            Assert.Equal(ChatFinishReason.Stop, auto.FinishReason);
            Assert.Empty(auto.ToolCalls);
            Assert.DoesNotContain("\"response\"", auto.Content[0].Text); // the envelope is unwrapped
        }

        Assert.Equal(ChatFinishReason.Length, cut.FinishReason);
        Assert.StartsWith("{", cut.Content[0].Text);
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
