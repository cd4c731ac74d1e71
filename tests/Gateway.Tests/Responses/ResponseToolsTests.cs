using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Gateway.Tests.Routing;
using Microsoft.AspNetCore.Http;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // the official client marks its Responses API experimental

namespace InferenceMesh.Gateway.Tests.Responses;

/// <summary>
/// Function tools on /v1/responses through the official client's ResponsesClient: a cloud stand-in (loopback) that answers
/// with chat tool calls, and the real stories260K model whose calls the local tool grammar shapes.
/// </summary>
public sealed class ResponseToolsTests
{
    private const string Schema = """
        {"type":"object","properties":{"city":{"type":"string","maxLength":12}},"required":["city"],"additionalProperties":false}
        """;

    private static ResponseTool Weather => ResponseTool.CreateFunctionTool("get_weather", BinaryData.FromString(Schema), strictModeEnabled: true, functionDescription: "Current weather in a city.");

    [Fact]
    public async Task A_cloud_tool_call_is_a_function_call_item_streamed_or_not_and_its_output_goes_back_as_a_tool_message()
    {
        var (cloud, harness) = await StartWithToolCallingCloudAsync();
        await using var _ = cloud;
        await using var __ = harness;
        var client = harness.Gateway.OpenAi.GetResponsesClient();
        var options = new CreateResponseOptions("auto", [ResponseItem.CreateUserMessageItem(RoutingHarness.PublicPrompt)])
        {
            Tools = { Weather }, ToolChoice = ResponseToolChoice.CreateFunctionChoice("get_weather"), ParallelToolCallsEnabled = false,
        };

        ResponseResult response = await client.CreateResponseAsync(options);

        var call = Assert.IsType<FunctionCallResponseItem>(Assert.Single(response.OutputItems));
        Assert.Equal("call_cloud_1", call.CallId);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("""{"city":"Paris"}""", call.FunctionArguments.ToString());
        Assert.StartsWith("fc_", call.Id);
        Assert.Equal(ResponseStatus.Completed, response.Status);

        // The cloud got chat's tool shapes.
        var sent = JsonDocument.Parse(cloud.ChatRequests.Last().Body).RootElement;
        Assert.Equal("get_weather", sent.GetProperty("tools")[0].GetProperty("function").GetProperty("name").GetString());
        Assert.True(sent.GetProperty("tools")[0].GetProperty("function").GetProperty("strict").GetBoolean());
        Assert.Equal("get_weather", sent.GetProperty("tool_choice").GetProperty("function").GetProperty("name").GetString());
        Assert.False(sent.GetProperty("parallel_tool_calls").GetBoolean());

        // Streamed: the item added, the argument fragments, their done with the whole arguments, the item done.
        options.StreamingEnabled = true;
        var types = new List<string>();
        var fragments = new StringBuilder();
        string? doneArguments = null;
        FunctionCallResponseItem? done = null;
        ResponseResult? final = null;
        await foreach (var update in client.CreateResponseStreamingAsync(options))
        {
            switch (update)
            {
                case StreamingResponseFunctionCallArgumentsDeltaUpdate delta:
                    fragments.Append(delta.Delta.ToString());
                    break;
                case StreamingResponseFunctionCallArgumentsDoneUpdate argumentsDone:
                    doneArguments = argumentsDone.FunctionArguments.ToString();
                    break;
                case StreamingResponseOutputItemDoneUpdate itemDone:
                    done = Assert.IsType<FunctionCallResponseItem>(itemDone.Item);
                    break;
                case StreamingResponseCompletedUpdate completed:
                    final = completed.Response;
                    break;
            }
        }

        Assert.Equal("""{"city":"Paris"}""", fragments.ToString());
        Assert.Equal("""{"city":"Paris"}""", doneArguments);
        Assert.NotNull(done);
        Assert.Equal("call_cloud_1", done.CallId);
        Assert.Equal("get_weather", done.FunctionName);
        Assert.NotNull(final);
        Assert.Equal("call_cloud_1", Assert.IsType<FunctionCallResponseItem>(Assert.Single(final.OutputItems)).CallId);

        // The next turn sends the call and its output back: an assistant message with the tool call, then a tool message.
        var next = new CreateResponseOptions("auto",
        [
            ResponseItem.CreateUserMessageItem(RoutingHarness.PublicPrompt),
            ResponseItem.CreateFunctionCallItem("call_cloud_1", "get_weather", BinaryData.FromString("""{"city":"Paris"}""")),
            ResponseItem.CreateFunctionCallOutputItem("call_cloud_1", "18 degrees and sunny"),
        ])
        { Tools = { Weather } };
        cloud.Script = null;
        ResponseResult answer = await client.CreateResponseAsync(next);

        Assert.Equal("from the cloud", answer.GetOutputText());
        var messages = JsonDocument.Parse(cloud.ChatRequests.Last().Body).RootElement.GetProperty("messages");
        Assert.Equal(3, messages.GetArrayLength());
        Assert.Equal("assistant", messages[1].GetProperty("role").GetString());
        var sentCall = messages[1].GetProperty("tool_calls")[0];
        Assert.Equal("call_cloud_1", sentCall.GetProperty("id").GetString());
        Assert.Equal("get_weather", sentCall.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("""{"city":"Paris"}""", sentCall.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("tool", messages[2].GetProperty("role").GetString());
        Assert.Equal("call_cloud_1", messages[2].GetProperty("tool_call_id").GetString());
        Assert.Equal("18 degrees and sunny", messages[2].GetProperty("content").GetString());
    }

    [Fact]
    public async Task A_stored_call_is_answered_with_previous_response_id_and_only_its_function_call_output()
    {
        // How coding agents chain turns: the model's call is stored with its response; the next request names that response
        // and sends only the tool's output.
        var (cloud, harness) = await StartWithToolCallingCloudAsync();
        await using var _ = cloud;
        await using var __ = harness;
        var client = harness.Gateway.OpenAi.GetResponsesClient();

        ResponseResult call = await client.CreateResponseAsync(
            new CreateResponseOptions("auto", [ResponseItem.CreateUserMessageItem(RoutingHarness.PublicPrompt)]) { Tools = { Weather } });
        cloud.Script = null;
        var next = new CreateResponseOptions("auto", [ResponseItem.CreateFunctionCallOutputItem("call_cloud_1", "18 degrees and sunny")])
        {
            Tools = { Weather }, PreviousResponseId = call.Id,
        };
        ResponseResult answer = await client.CreateResponseAsync(next);

        Assert.Equal("from the cloud", answer.GetOutputText());
        var messages = JsonDocument.Parse(cloud.ChatRequests.Last().Body).RootElement.GetProperty("messages");
        Assert.Equal(["user", "assistant", "tool"], messages.EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        Assert.Equal("call_cloud_1", messages[1].GetProperty("tool_calls")[0].GetProperty("id").GetString());
        Assert.Equal("""{"city":"Paris"}""", messages[1].GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("call_cloud_1", messages[2].GetProperty("tool_call_id").GetString());
    }

    [Fact]
    public async Task The_local_model_calls_a_required_function_streamed_or_not()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var client = environment.OpenAi.GetResponsesClient();
        var options = new CreateResponseOptions(TestEnvironment.Stories, [ResponseItem.CreateUserMessageItem("What is the weather in Paris?")])
        {
            Temperature = 0, MaxOutputTokenCount = 400, Tools = { Weather }, ToolChoice = ResponseToolChoice.CreateRequiredChoice(), ParallelToolCallsEnabled = false,
        };

        ResponseResult response = await client.CreateResponseAsync(options);
        options.StreamingEnabled = true;
        FunctionCallResponseItem? streamed = null;
        var fragments = new StringBuilder();
        await foreach (var update in client.CreateResponseStreamingAsync(options))
        {
            if (update is StreamingResponseFunctionCallArgumentsDeltaUpdate delta) fragments.Append(delta.Delta.ToString());
            if (update is StreamingResponseCompletedUpdate completed) streamed = Assert.IsType<FunctionCallResponseItem>(Assert.Single(completed.Response.OutputItems));
        }

        var call = Assert.IsType<FunctionCallResponseItem>(Assert.Single(response.OutputItems));
        Assert.Equal("get_weather", call.FunctionName);
        Assert.StartsWith("call_", call.CallId);
        using (var arguments = JsonDocument.Parse(call.FunctionArguments.ToString()))
        {
            Assert.InRange(arguments.RootElement.GetProperty("city").GetString()!.Length, 0, 12);
        }

        Assert.NotNull(streamed);
        Assert.Equal(call.FunctionArguments.ToString(), streamed.FunctionArguments.ToString());
        Assert.Equal(call.FunctionArguments.ToString(), fragments.ToString());
    }

    [Theory]
    [InlineData("""{"tools":[{"type":"function","name":"bad name!"}]}""", "tools[0].name")]
    [InlineData("""{"tools":[{"type":"function","name":"f","parameters":[1]}]}""", "tools[0].parameters")]
    [InlineData("""{"tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function","name":"g"}}""", "tool_choice")]
    [InlineData("""{"tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function"}}""", "tool_choice.name")]
    [InlineData("""{"tools":[{"name":"f"}]}""", "tools[0].type")]
    [InlineData("""{"parallel_tool_calls":"no"}""", "parallel_tool_calls")]
    [InlineData("""{"input":[{"type":"function_call","name":"f","arguments":"{}"}]}""", "input[0].call_id")]
    [InlineData("""{"input":[{"type":"function_call","call_id":"c","arguments":"{}"}]}""", "input[0].name")]
    [InlineData("""{"input":[{"type":"function_call_output","call_id":"c"}]}""", "input[0].output")]
    [InlineData("""{"input":[{"type":"function_call_output","call_id":"c","output":5}]}""", "input[0].output")]
    public async Task Malformed_tool_fields_are_a_400_naming_the_responses_field(string fields, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = """{"model":"stories260K","max_output_tokens":2""" + (fields.Contains("\"input\"", StringComparison.Ordinal) ? "" : ""","input":"Hi" """) + "," + fields[1..];

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(body));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(param, error.GetProperty("param").GetString());
    }

    /// <summary>A gateway whose best-scoring backend is a cloud stand-in answering with <see cref="WriteToolCallAsync"/>.</summary>
    private static async Task<(RecordingUpstream Cloud, RoutingHarness Harness)> StartWithToolCallingCloudAsync()
    {
        var cloud = await RecordingUpstream.StartAsync();
        cloud.Script = WriteToolCallAsync;
        var harness = new RoutingHarness();
        harness.Clouds.Add(("cloud-a", cloud, 0.95, "sk-cloud-a-test"));
        await harness.StartAsync();
        return (cloud, harness);
    }

    /// <summary>The cloud's answer: one call of get_weather, as a chat.completion or as chunks.</summary>
    private static async Task WriteToolCallAsync(HttpContext http, bool stream)
    {
        var response = http.Response;
        const string head = """{"id":"chatcmpl-tools","object":"chat.completion.chunk","created":1700000000,"model":"upstream-model","choices":[{"index":0,"delta":""";
        if (!stream)
        {
            response.ContentType = "application/json";
            await response.WriteAsync("""
                {"id":"chatcmpl-tools","object":"chat.completion","created":1700000000,"model":"upstream-model","choices":[{"index":0,"message":{"role":"assistant","content":null,
                 "tool_calls":[{"id":"call_cloud_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],
                 "usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}
                """);
            return;
        }

        response.ContentType = "text/event-stream";
        string[] deltas =
        [
            """{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_cloud_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}""",
            """{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}""",
            """{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}""",
            """{},"finish_reason":"tool_calls"}]}""",
        ];
        foreach (var delta in deltas)
        {
            await response.WriteAsync("data: " + head + delta + "\n\n");
            await response.Body.FlushAsync();
        }

        await response.WriteAsync("data: [DONE]\n\n");
    }
}
