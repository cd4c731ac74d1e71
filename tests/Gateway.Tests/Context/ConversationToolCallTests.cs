using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Tests.Backends.Anthropic;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Gateway.Tests.Routing;
using Microsoft.AspNetCore.Http;
using static InferenceMesh.Gateway.Tests.Context.ContextHttp;

namespace InferenceMesh.Gateway.Tests.Context;

/// <summary>
/// A tool conversation kept by the gateway: turn 1's answer is a tool call, turn 2 sends only the tool's result. The
/// stored turn keeps the call as a function_call item and the result as a function_call_output item (OpenAI's
/// Conversations API shapes), and turn 2's upstream gets the assistant's call before the result (for Anthropic:
/// tool_use, then tool_result), streamed and not, through the real gateway and loopback stand-ins that record what
/// they receive.
/// </summary>
public sealed class ConversationToolCallTests
{
    private const string Tools =
        """[{"type":"function","function":{"name":"get_weather","description":"Current weather in a city.","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]""";

    private static HttpRequestMessage Turn(string conversationId, bool stream, string messages, string? privacy = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ApiAssert.Json(
                $$"""{"model":"auto","stream":{{(stream ? "true" : "false")}},"conversation":"{{conversationId}}","tools":{{Tools}},"messages":{{messages}}}"""),
        };
        if (privacy is not null) request.Headers.Add("X-InferenceMesh-Privacy", privacy);
        return request;
    }

    private static async Task<(RoutingHarness Harness, RecordingUpstream Upstream)> StartWithCloudAsync()
    {
        var upstream = await RecordingUpstream.StartAsync();
        var harness = new RoutingHarness();
        harness.Clouds.Add(("cloud-a", upstream, 0.95, "sk-a"));
        await harness.StartAsync();
        return (harness, upstream);
    }

    /// <summary>A cloud that answers turn 1 with a call of get_weather (call_abc) and later turns with text; turn 1 sent.</summary>
    private static async Task<(RoutingHarness Harness, RecordingUpstream Upstream, string Id)> StartOpenAiToolCallAsync(bool stream)
    {
        var (harness, upstream) = await StartWithCloudAsync();
        upstream.Script = (http, streamed) => upstream.ChatRequests.Count() == 1 ? ToolCallAnswer(http, streamed) : TextAnswer(http, streamed);
        var id = await CreateConversationAsync(harness.Http);
        var (first, firstBody) = await harness.SendAsync(Turn(id, stream, FirstTurn()));
        Assert.True(first.StatusCode == HttpStatusCode.OK, firstBody + harness.Logs.All);
        return (harness, upstream, id);
    }

    /// <summary>Claude answers turn 1 with a tool_use of get_weather (toolu_01, after <paramref name="text"/>) and later turns with text; turn 1 sent.</summary>
    private static async Task<(RoutingHarness Harness, LoopbackAnthropicUpstream Anthropic, string Id)> StartAnthropicToolUseAsync(bool stream, string? text = null)
    {
        var anthropic = await LoopbackAnthropicUpstream.StartAsync();
        var toolUse = stream
            ? LoopbackAnthropicUpstream.Events(AnthropicScript.ToolUseStream(text, ("toolu_01", "get_weather", ["{\"city\":", "\"Paris\"}"])))
            : LoopbackAnthropicUpstream.Json(200, AnthropicScript.ToolUseMessage(text, ("toolu_01", "get_weather", """{"city":"Paris"}""")));
        var answer = stream
            ? LoopbackAnthropicUpstream.Events(AnthropicScript.HelloWorld())
            : LoopbackAnthropicUpstream.Json(200,
                """{"id":"msg_01","type":"message","role":"assistant","model":"claude-test-1","content":[{"type":"text","text":"Hello, world"}],"stop_reason":"end_turn","usage":{"input_tokens":8,"output_tokens":2}}""");
        anthropic.Respond = context => anthropic.Requests.Count == 1 ? toolUse(context) : answer(context);
        var harness = new RoutingHarness();
        harness.OtherBackends.Add(("claude", "anthropic", anthropic.BaseAddress.ToString(), 0.95, "sk-ant"));
        await harness.StartAsync();
        var id = await CreateConversationAsync(harness.Http);
        var (first, firstBody) = await harness.SendAsync(Turn(id, stream, FirstTurn()));
        Assert.True(first.StatusCode == HttpStatusCode.OK, firstBody + harness.Logs.All);
        Assert.Contains("toolu_01", firstBody, StringComparison.Ordinal);
        return (harness, anthropic, id);
    }

    private static string FirstTurn() =>
        $$"""[{"role":"user","content":{{JsonSerializer.Serialize(RoutingHarness.PublicPrompt)}}}]""";

    private const string ToolResult = """[{"role":"tool","tool_call_id":"CALL","content":"18 C, sunny"}]""";

    /// <summary>The stored items, oldest first, as their raw JSON minus the fields that change every run.</summary>
    private static async Task<List<string>> StoredAsync(HttpClient http, string conversationId)
    {
        var list = await GetAsync(http, $"/v1/conversations/{conversationId}/items?order=asc&limit=100");
        return [.. list.GetProperty("data").EnumerateArray().Select(item =>
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(item.GetRawText())!.AsObject();
            Assert.StartsWith("msg_", node["id"]!.GetValue<string>(), StringComparison.Ordinal);
            node.Remove("id");
            node.Remove("created_at");
            return node.ToJsonString();
        })];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_anthropic_tool_call_and_its_result_come_back_as_tool_use_then_tool_result(bool stream)
    {
        var (harness, anthropic, id) = await StartAnthropicToolUseAsync(stream);
        await using var ownedAnthropic = anthropic;
        await using var owned = harness;

        var (second, secondBody) = await harness.SendAsync(Turn(id, stream, ToolResult.Replace("CALL", "toolu_01", StringComparison.Ordinal)));

        Assert.True(second.StatusCode == HttpStatusCode.OK, secondBody + harness.Logs.All);
        Assert.Equal("claude", RoutingHarness.BackendOf(second));
        var sent = anthropic.Requests.ToArray()[1].Json.GetProperty("messages");
        Assert.Equal(
            """[{"role":"user","content":"What is the capital of France?"},"""
            + """{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}]},"""
            + """{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"18 C, sunny"}]}]""",
            sent.GetRawText());
        Assert.Equal(
            [
                """{"type":"message","status":"completed","role":"user","content":[{"type":"input_text","text":"What is the capital of France?"}]}""",
                """{"type":"function_call","status":"completed","backend":"claude","call_id":"toolu_01","name":"get_weather","arguments":"{\u0022city\u0022:\u0022Paris\u0022}"}""",
                """{"type":"function_call_output","status":"completed","call_id":"toolu_01","output":"18 C, sunny"}""",
                """{"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello, world","annotations":[]}],"backend":"claude"}""",
            ],
            await StoredAsync(harness.Http, id));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_openai_compatible_tool_call_and_its_result_come_back_in_order(bool stream)
    {
        var (harness, upstream, id) = await StartOpenAiToolCallAsync(stream);
        await using var owned = harness;
        await using var ownedUpstream = upstream;

        var (second, secondBody) = await harness.SendAsync(Turn(id, stream, ToolResult.Replace("CALL", "call_abc", StringComparison.Ordinal)));

        Assert.True(second.StatusCode == HttpStatusCode.OK, secondBody + harness.Logs.All);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(second));
        using var sent = JsonDocument.Parse(upstream.ChatRequests.ToArray()[1].Body);
        Assert.Equal(
            """[{"role":"user","content":"What is the capital of France?"},"""
            + """{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\u0022city\u0022:\u0022Paris\u0022}"}}]},"""
            + """{"role":"tool","tool_call_id":"call_abc","content":"18 C, sunny"}]""",
            sent.RootElement.GetProperty("messages").GetRawText());
        Assert.Equal(
            [
                """{"type":"message","status":"completed","role":"user","content":[{"type":"input_text","text":"What is the capital of France?"}]}""",
                """{"type":"function_call","status":"completed","backend":"cloud-a","call_id":"call_abc","name":"get_weather","arguments":"{\u0022city\u0022:\u0022Paris\u0022}"}""",
                """{"type":"function_call_output","status":"completed","call_id":"call_abc","output":"18 C, sunny"}""",
                """{"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"It is sunny.","annotations":[]}],"backend":"cloud-a"}""",
            ],
            await StoredAsync(harness.Http, id));
    }

    [Theory]
    [InlineData(false, 1000)]
    [InlineData(true, 1000)]
    [InlineData(true, 3)] // streamed in pieces of 3 characters: the call goes out in many deltas, the store keeps it whole
    public async Task A_confidential_tool_conversation_stays_local_and_the_local_prompt_shows_the_model_its_own_call(bool stream, int pieceLength)
    {
        var (harness, upstream) = await StartWithCloudAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        const string call = "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]}";
        harness.Engine.Model.OnStart = _ => EngineResult<IGeneration>.Ok(
            new FakeGeneration([.. call.Chunk(pieceLength).Select(piece => new string(piece))], new GenerationOutcome(FinishReason.Stop, 3, 2)));
        var id = await CreateConversationAsync(harness.Http);

        var (first, firstBody) = await harness.SendAsync(Turn(id, stream, FirstTurn(), privacy: "confidential"));
        Assert.True(first.StatusCode == HttpStatusCode.OK, firstBody + harness.Logs.All);
        Assert.Equal("local", RoutingHarness.BackendOf(first));
        var callId = System.Text.RegularExpressions.Regex.Match(firstBody, "call_[A-Za-z0-9]+").Value;
        Assert.NotEmpty(callId);
        harness.Engine.Model.OnStart = _ => EngineResult<IGeneration>.Ok(
            new FakeGeneration([.. "{\"response\": \"It is sunny.\"}".Chunk(pieceLength).Select(piece => new string(piece))], new GenerationOutcome(FinishReason.Stop, 3, 2)));

        // No header on turn 2: the conversation's level keeps it local.
        var (second, secondBody) = await harness.SendAsync(Turn(id, stream, ToolResult.Replace("CALL", callId, StringComparison.Ordinal)));

        Assert.True(second.StatusCode == HttpStatusCode.OK, secondBody + harness.Logs.All);
        Assert.Equal("local", RoutingHarness.BackendOf(second));
        Assert.Empty(upstream.ChatRequests);
        Assert.Equal(
            [
                ("user", RoutingHarness.PublicPrompt),
                ("assistant", """{"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]}"""),
                ("tool", "18 C, sunny"),
            ],
            harness.Engine.Model.LastMessages!.Where(m => m.Role != "system").Select(m => (m.Role, m.Content)));
        Assert.Equal(
            [
                """{"type":"message","status":"completed","role":"user","content":[{"type":"input_text","text":"What is the capital of France?"}]}""",
                // The arguments as the model wrote them (and the client got them).
                $$"""{"type":"function_call","status":"completed","backend":"local","call_id":"{{callId}}","name":"get_weather","arguments":"{\u0022city\u0022: \u0022Paris\u0022}"}""",
                $$"""{"type":"function_call_output","status":"completed","call_id":"{{callId}}","output":"18 C, sunny"}""",
                """{"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"It is sunny.","annotations":[]}],"backend":"local"}""",
            ],
            await StoredAsync(harness.Http, id));
    }

    [Fact]
    public async Task Tool_items_added_by_hand_go_to_the_upstream_as_a_call_and_its_result()
    {
        var (harness, upstream) = await StartWithCloudAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        var id = await CreateConversationAsync(harness.Http, """
            {"items":[{"role":"user","content":"What is the capital of France?"},
                      {"type":"function_call","call_id":"call_x","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
                      {"type":"function_call_output","call_id":"call_x","output":"18 C, sunny"}]}
            """);

        var (response, body) = await harness.SendAsync(Turn(id, stream: false, """[{"role":"user","content":"Thanks."}]"""));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + harness.Logs.All);
        using var sent = JsonDocument.Parse(Assert.Single(upstream.ChatRequests).Body);
        Assert.Equal(
            """[{"role":"user","content":"What is the capital of France?"},"""
            + """{"role":"assistant","content":null,"tool_calls":[{"id":"call_x","type":"function","function":{"name":"get_weather","arguments":"{\u0022city\u0022:\u0022Paris\u0022}"}}]},"""
            + """{"role":"tool","tool_call_id":"call_x","content":"18 C, sunny"},{"role":"user","content":"Thanks."}]""",
            sent.RootElement.GetProperty("messages").GetRawText());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_call_the_client_never_answered_is_left_out_of_the_next_openai_turn(bool stream)
    {
        var (harness, upstream, id) = await StartOpenAiToolCallAsync(stream);
        await using var owned = harness;
        await using var ownedUpstream = upstream;

        // The client moves on without a tool result: the replayed tool_calls message had no tool message after it,
        // which OpenAI refuses (400), so every later turn of the conversation failed.
        var (second, secondBody) = await harness.SendAsync(Turn(id, stream, """[{"role":"user","content":"Never mind."}]"""));

        Assert.True(second.StatusCode == HttpStatusCode.OK, secondBody + harness.Logs.All);
        using var sent = JsonDocument.Parse(upstream.ChatRequests.ToArray()[1].Body);
        Assert.Equal(
            """[{"role":"user","content":"What is the capital of France?"},{"role":"user","content":"Never mind."}]""",
            sent.RootElement.GetProperty("messages").GetRawText());
        Assert.Contains(await StoredAsync(harness.Http, id), item => item.Contains("\"function_call\"", StringComparison.Ordinal)); // kept, only not replayed
    }

    [Fact]
    public async Task A_call_the_client_never_answered_is_left_out_of_the_next_anthropic_turn()
    {
        var (harness, anthropic, id) = await StartAnthropicToolUseAsync(stream: false, text: "Let me look.");
        await using var ownedAnthropic = anthropic;
        await using var owned = harness;

        // A tool_use block with no tool_result in the next user turn: Anthropic refuses the request (400).
        var (second, secondBody) = await harness.SendAsync(Turn(id, stream: false, """[{"role":"user","content":"Never mind."}]"""));

        Assert.True(second.StatusCode == HttpStatusCode.OK, secondBody + harness.Logs.All);
        Assert.Equal(
            """[{"role":"user","content":"What is the capital of France?"},{"role":"assistant","content":"Let me look."},{"role":"user","content":"Never mind."}]""",
            anthropic.Requests.ToArray()[1].Json.GetProperty("messages").GetRawText());
    }

    [Fact]
    public async Task Of_a_history_s_calls_only_the_answered_ones_are_replayed_and_the_request_s_results_answer_the_last()
    {
        var (harness, upstream) = await StartWithCloudAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        var id = await CreateConversationAsync(harness.Http, """
            {"items":[{"role":"user","content":"Weather in Paris and Rome?"},
                      {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{}"},
                      {"type":"function_call","call_id":"call_2","name":"get_weather","arguments":"{}"},
                      {"type":"function_call_output","call_id":"call_1","output":"sunny"},
                      {"type":"function_call_output","call_id":"call_9","output":"an answer to no call"},
                      {"role":"user","content":"And Oslo?"},
                      {"type":"function_call","call_id":"call_3","name":"get_weather","arguments":"{}"},
                      {"type":"function_call","call_id":"call_4","name":"get_weather","arguments":"{}"},
                      {"type":"function_call_output","call_id":"call_3","output":"snow"}]}
            """);

        // call_2 was never answered (the user moved on), call_9's output answers no call; call_4 is answered now.
        var (response, body) = await harness.SendAsync(Turn(id, stream: false, """[{"role":"tool","tool_call_id":"call_4","content":"rain"}]"""));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + harness.Logs.All);
        using var sent = JsonDocument.Parse(Assert.Single(upstream.ChatRequests).Body);
        Assert.Equal(
            [
                "user:Weather in Paris and Rome?", "assistant:call_1", "tool:call_1:sunny", "user:And Oslo?",
                "assistant:call_3,call_4", "tool:call_3:snow", "tool:call_4:rain",
            ],
            sent.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString() switch
            {
                "tool" => $"tool:{m.GetProperty("tool_call_id").GetString()}:{m.GetProperty("content").GetString()}",
                "assistant" => "assistant:" + string.Join(",", m.GetProperty("tool_calls").EnumerateArray().Select(c => c.GetProperty("id").GetString())),
                var role => $"{role}:{m.GetProperty("content").GetString()}",
            }));
    }

    /// <summary>A call of get_weather, as OpenAI sends it: whole, or streamed with the id and name first and the arguments in fragments.</summary>
    private static Task ToolCallAnswer(HttpContext http, bool stream)
    {
        if (!stream)
        {
            return Json(http,
                """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}}""");
        }

        return Events(http,
            """{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]}""",
            """{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}""",
            """{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}""");
    }

    private static Task TextAnswer(HttpContext http, bool stream) => stream
        ? Events(http, """{"role":"assistant","content":"It is "}""", """{"content":"sunny."}""")
        : Json(http,
            """{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":"It is sunny."},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}}""");

    private static async Task Json(HttpContext http, string json)
    {
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(json);
    }

    private static async Task Events(HttpContext http, params string[] deltas)
    {
        http.Response.ContentType = "text/event-stream";
        var text = new StringBuilder();
        foreach (var delta in deltas)
        {
            text.Append("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":")
                .Append(delta).Append(",\"finish_reason\":null}]}\n\n");
        }

        text.Append("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
        text.Append("data: [DONE]\n\n");
        await http.Response.WriteAsync(text.ToString());
    }
}
