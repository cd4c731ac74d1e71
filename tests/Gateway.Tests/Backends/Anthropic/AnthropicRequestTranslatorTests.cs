using System.Text.Json;
using InferenceMesh.Gateway.Backends.Anthropic;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Tests.Backends.Anthropic;

public sealed class AnthropicRequestTranslatorTests
{
    private static ChatCompletionRequest Parse(string json) =>
        JsonSerializer.Deserialize(json, OpenAiJsonContext.Default.ChatCompletionRequest)!;

    private static string Translate(string openAiJson, bool stream = false)
    {
        var result = AnthropicRequestTranslator.Translate(Parse(openAiJson), "claude-test-1", stream);
        Assert.Null(result.Error);
        return JsonSerializer.Serialize(result.Value!, AnthropicJsonContext.Default.AnthropicMessagesRequest);
    }

    [Fact]
    public void System_and_developer_messages_become_system_blocks_and_roles_merge()
    {
        var json = Translate("""
            {"model":"auto","messages":[
              {"role":"system","content":"Be brief."},
              {"role":"user","content":"Hi"},
              {"role":"developer","content":[{"type":"text","text":"Answer in English."}]},
              {"role":"user","content":[{"type":"text","text":"Part A"},{"type":"text","text":"Part B"}]},
              {"role":"assistant","content":"Hello"},
              {"role":"assistant","content":"again  "}
            ]}
            """);

        Assert.Equal(
            """{"model":"claude-test-1","max_tokens":4096,"system":[{"type":"text","text":"Be brief."},{"type":"text","text":"Answer in English."}],"messages":[{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":"Part A"},{"type":"text","text":"Part B"}]},{"role":"assistant","content":[{"type":"text","text":"Hello"},{"type":"text","text":"again"}]}]}""",
            json);
    }

    [Fact]
    public void One_system_message_is_a_string_and_parameters_map()
    {
        var json = Translate("""
            {"model":"auto","max_tokens":50,"max_completion_tokens":77,"temperature":0.5,"top_p":0.9,"top_k":40,"stop":["END","###"],"seed":7,
             "messages":[{"role":"system","content":"S"},{"role":"user","content":"Q"}]}
            """, stream: true);

        Assert.Equal(
            """{"model":"claude-test-1","max_tokens":77,"system":"S","messages":[{"role":"user","content":"Q"}],"temperature":0.5,"top_p":0.9,"top_k":40,"stop_sequences":["END","###"],"stream":true}""",
            json);
    }

    [Theory]
    [InlineData("\"max_tokens\":33,", 33)]
    [InlineData("\"max_completion_tokens\":44,", 44)]
    [InlineData("", AnthropicDefaults.MaxTokens)]
    public void Max_tokens_comes_from_either_openai_field_or_the_default(string field, int expected)
    {
        var result = AnthropicRequestTranslator.Translate(Parse($$"""{{{field}}"messages":[{"role":"user","content":"Q"}]}"""), "m", stream: false);
        Assert.Equal(expected, result.Value!.MaxTokens);
    }

    [Fact]
    public void A_single_stop_string_becomes_one_stop_sequence()
    {
        var result = AnthropicRequestTranslator.Translate(Parse("""{"stop":"\n\n","messages":[{"role":"user","content":"Q"}]}"""), "m", stream: false);
        Assert.Equal(["\n\n"], result.Value!.StopSequences);
    }

    [Fact]
    public void Temperature_above_one_is_clamped_and_outside_openai_range_is_400()
    {
        var clamped = AnthropicRequestTranslator.Translate(Parse("""{"temperature":1.7,"messages":[{"role":"user","content":"Q"}]}"""), "m", stream: false);
        Assert.Equal(1.0, clamped.Value!.Temperature);

        var invalid = AnthropicRequestTranslator.Translate(Parse("""{"temperature":2.5,"messages":[{"role":"user","content":"Q"}]}"""), "m", stream: false);
        Assert.Equal(400, invalid.Error!.StatusCode);
        Assert.Equal("temperature", invalid.Error.Param);
    }

    [Fact]
    public void A_conversation_starting_with_the_assistant_gets_a_minimal_user_turn()
    {
        var json = Translate("""{"messages":[{"role":"system","content":"S"},{"role":"assistant","content":"I start."},{"role":"user","content":"Go on"}]}""");
        Assert.Equal(
            """{"model":"claude-test-1","max_tokens":4096,"system":"S","messages":[{"role":"user","content":"."},{"role":"assistant","content":"I start."},{"role":"user","content":"Go on"}]}""",
            json);
    }

    [Fact]
    public void Empty_messages_are_dropped_so_roles_still_alternate()
    {
        var json = Translate("""{"messages":[{"role":"user","content":"A"},{"role":"assistant","content":""},{"role":"user","content":"B"}]}""");
        Assert.Equal(
            """{"model":"claude-test-1","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"A"},{"type":"text","text":"B"}]}]}""",
            json);
    }

    [Fact]
    public void Legacy_function_messages_are_a_clear_400()
    {
        var result = AnthropicRequestTranslator.Translate(
            Parse("""{"messages":[{"role":"user","content":"Q"},{"role":"function","name":"f","content":"42"}]}"""), "m", stream: false);
        Assert.Equal(400, result.Error!.StatusCode);
        Assert.Equal("messages[1].role", result.Error.Param);
        Assert.Equal(AnthropicRequestTranslator.UnsupportedCode, result.Error.Code);
        Assert.Contains("not supported by the Anthropic backend", result.Error.Message);
    }

    [Fact]
    public void Tools_become_anthropic_tools_with_their_schema_or_an_empty_one()
    {
        var json = Translate("""
            {"messages":[{"role":"user","content":"Q"}],"parallel_tool_calls":true,"tools":[
              {"type":"function","function":{"name":"get_weather","description":"Weather.","parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}},
              {"type":"function","function":{"name":"now"}}]}
            """);

        Assert.Equal(
            """{"model":"claude-test-1","max_tokens":4096,"messages":[{"role":"user","content":"Q"}],"tools":[{"name":"get_weather","description":"Weather.","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}},{"name":"now","input_schema":{"type":"object","properties":{}}}]}""",
            json);
    }

    [Theory]
    [InlineData("\"auto\"", "", """{"type":"auto"}""")]
    [InlineData("\"required\"", "", """{"type":"any"}""")]
    [InlineData("\"none\"", "", """{"type":"none"}""")]
    [InlineData("\"none\"", ",\"parallel_tool_calls\":false", """{"type":"none"}""")]
    [InlineData("{\"type\":\"function\",\"function\":{\"name\":\"f\"}}", "", """{"type":"tool","name":"f"}""")]
    [InlineData("{\"type\":\"function\",\"function\":{\"name\":\"f\"}}", ",\"parallel_tool_calls\":false", """{"type":"tool","name":"f","disable_parallel_tool_use":true}""")]
    [InlineData("null", ",\"parallel_tool_calls\":false", """{"type":"auto","disable_parallel_tool_use":true}""")]
    public void Tool_choice_maps_to_anthropics(string choice, string parallel, string expected)
    {
        var result = AnthropicRequestTranslator.Translate(
            Parse($$$"""{"messages":[{"role":"user","content":"Q"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{{{choice}}}{{{parallel}}}}"""), "m", stream: false);

        Assert.Null(result.Error);
        Assert.Equal(expected, JsonSerializer.Serialize(result.Value!.ToolChoice!, AnthropicJsonContext.Default.AnthropicToolChoice));
    }

    [Fact]
    public void Without_tools_a_neutral_choice_is_left_out()
    {
        var result = AnthropicRequestTranslator.Translate(Parse("""{"messages":[{"role":"user","content":"Q"}],"tools":[],"tool_choice":"auto","parallel_tool_calls":false}"""), "m", stream: false);

        Assert.Null(result.Error);
        Assert.Null(result.Value!.Tools);
        Assert.Null(result.Value.ToolChoice);
    }

    [Fact]
    public void Tool_calls_and_tool_results_become_tool_use_and_one_user_turn_of_tool_results_first()
    {
        var json = Translate("""
            {"tools":[{"type":"function","function":{"name":"f"}}],"messages":[
              {"role":"user","content":"Q"},
              {"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},
                {"id":"call_2","type":"function","function":{"name":"f","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"one"},
              {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"two"},{"type":"text","text":"parts"}]},
              {"role":"user","content":"And?"},
              {"role":"assistant","tool_calls":[{"id":"call_3","type":"function","function":{"name":"f","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"call_3","content":""}
            ]}
            """);

        Assert.Equal(
            """{"model":"claude-test-1","max_tokens":4096,"messages":["""
            + """{"role":"user","content":"Q"},"""
            + """{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"call_1","name":"f","input":{"a":1}},{"type":"tool_use","id":"call_2","name":"f","input":{}}]},"""
            + """{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"one"},{"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"two"},{"type":"text","text":"parts"}]},{"type":"text","text":"And?"}]},"""
            + """{"role":"assistant","content":[{"type":"tool_use","id":"call_3","name":"f","input":{}}]},"""
            + """{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_3"}]}],"""
            + "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]}",
            json);
    }

    [Theory]
    [InlineData("")]
    [InlineData(",\"tools\":[],\"tool_choice\":\"none\"")]
    public void A_history_with_tool_calls_but_no_tools_declares_the_called_tools_never_offered(string noTools)
    {
        // Anthropic refuses tool_use and tool_result blocks in a request without tools; the client asked for a text answer.
        var result = AnthropicRequestTranslator.Translate(Parse($$$"""
            {"messages":[{"role":"user","content":"Q"},
              {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"call_2","type":"function","function":{"name":"f","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"a"},{"role":"tool","tool_call_id":"call_2","content":"b"}]{{{noTools}}}}
            """), "m", stream: false);

        Assert.Equal("f", Assert.Single(result.Value!.Tools!).Name);
        Assert.Equal("none", result.Value.ToolChoice!.Type);
    }

    [Fact]
    public void A_user_message_before_the_tool_results_of_its_turn_still_comes_after_them()
    {
        var result = AnthropicRequestTranslator.Translate(Parse("""
            {"messages":[{"role":"user","content":"Q"},
              {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
              {"role":"user","content":"Hurry."},{"role":"tool","tool_call_id":"call_1","content":"done"}]}
            """), "m", stream: false);

        Assert.Equal(["tool_result", "text"], result.Value!.Messages[^1].Content.Blocks!.Select(b => b.Type));
    }

    [Theory]
    [InlineData("\"[\\\"Paris\\\"]\"")]
    [InlineData("\"not json\"")]
    [InlineData("\"\\\"Paris\\\"\"")]
    [InlineData("\"\"")]
    [InlineData("{\"city\":\"Paris\"}")]
    public void Tool_call_arguments_that_are_not_a_json_object_are_a_400_naming_them(string arguments)
    {
        var result = AnthropicRequestTranslator.Translate(Parse($$$"""
            {"messages":[{"role":"user","content":"Q"},
              {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":{{{arguments}}}}}]}]}
            """), "m", stream: false);

        Assert.Equal(400, result.Error!.StatusCode);
        Assert.Equal(("messages[1].tool_calls[0].function.arguments", "invalid_request_error", "invalid_value"), (result.Error.Param, result.Error.Type, result.Error.Code));
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"Q"},{"role":"tool","content":"42"}]}""", "messages[1].tool_call_id")]
    [InlineData("""{"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}""", "messages[0].tool_calls[0].id")]
    [InlineData("""{"messages":[{"role":"assistant","tool_calls":{"id":"x"}}]}""", "messages[0].tool_calls")]
    [InlineData("""{"messages":[{"role":"user","content":"Q"}],"tools":{"type":"function"}}""", "tools")]
    [InlineData("""{"messages":[{"role":"user","content":"Q"}],"tools":[{"type":"function","function":{"description":"no name"}}]}""", "tools[0].function.name")]
    [InlineData("""{"messages":[{"role":"user","content":"Q"}],"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]}""", "tools[0].function.parameters")]
    [InlineData("""{"messages":[{"role":"user","content":"Q"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always"}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"Q"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}""", "tool_choice.function.name")]
    [InlineData("""{"messages":[{"role":"user","content":"Q"}],"tool_choice":"required"}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"Q"}],"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":"no"}""", "parallel_tool_calls")]
    public void Malformed_tool_fields_are_a_400_naming_them(string request, string param)
    {
        var result = AnthropicRequestTranslator.Translate(Parse(request), "m", stream: false);

        Assert.Equal(400, result.Error!.StatusCode);
        Assert.Equal((param, "invalid_value"), (result.Error.Param, result.Error.Code));
    }

    [Fact]
    public void Tools_of_another_type_than_function_are_not_supported()
    {
        var result = AnthropicRequestTranslator.Translate(
            Parse("""{"messages":[{"role":"user","content":"Q"}],"tools":[{"type":"custom","custom":{"name":"grep"}}]}"""), "m", stream: false);

        Assert.Equal(("tools[0].type", AnthropicRequestTranslator.UnsupportedCode), (result.Error!.Param, result.Error.Code));
    }

    [Theory]
    [InlineData("\"functions\":[{\"name\":\"get_weather\"}]", "functions")]
    [InlineData("\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}", "audio")]
    [InlineData("\"logprobs\":true", "logprobs")]
    [InlineData("\"response_format\":{\"type\":\"json_object\"}", "response_format")]
    [InlineData("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"p\",\"schema\":{\"type\":\"object\"}}}", "response_format")]
    public void What_the_translation_does_not_carry_is_refused_not_dropped(string field, string param)
    {
        // Dropped, the client waiting for a tool call or for JSON would get free text from a backend named as the answer's.
        var result = AnthropicRequestTranslator.Translate(Parse($$"""{"messages":[{"role":"user","content":"Weather?"}],{{field}}}"""), "m", stream: false);

        Assert.Equal(400, result.Error!.StatusCode);
        Assert.Equal((param, AnthropicRequestTranslator.UnsupportedCode), (result.Error.Param, result.Error.Code));
        Assert.Contains("not supported by the Anthropic backend", result.Error.Message);
    }

    [Theory]
    [InlineData("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}],\"tool_choice\":\"none\"")]
    [InlineData("\"response_format\":{\"type\":\"text\"},\"logprobs\":false")]
    public void Their_neutral_values_translate(string field)
    {
        var result = AnthropicRequestTranslator.Translate(Parse($$"""{"messages":[{"role":"user","content":"Weather?"}],{{field}}}"""), "m", stream: false);

        Assert.Null(result.Error);
    }

    [Fact]
    public void Image_parts_are_a_clear_400()
    {
        var result = AnthropicRequestTranslator.Translate(
            Parse("""{"messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}"""),
            "m", stream: false);
        Assert.Equal(400, result.Error!.StatusCode);
        Assert.Equal("messages[0].content[1]", result.Error.Param);
        Assert.Equal(AnthropicRequestTranslator.UnsupportedCode, result.Error.Code);
        Assert.Equal("'image_url' content parts are not supported by the Anthropic backend yet; send text parts only.", result.Error.Message);
    }

    [Fact]
    public void Only_system_messages_is_a_400()
    {
        var result = AnthropicRequestTranslator.Translate(Parse("""{"messages":[{"role":"system","content":"S"}]}"""), "m", stream: false);
        Assert.Equal(400, result.Error!.StatusCode);
        Assert.Equal("messages", result.Error.Param);
    }

    [Fact]
    public void Anthropic_content_reads_both_shapes()
    {
        var response = JsonSerializer.Deserialize(
            """{"id":"msg_1","content":[{"type":"text","text":"a"},{"type":"tool_use","id":"t","name":"f","input":{}},{"type":"text","text":"b"}]}""",
            AnthropicJsonContext.Default.AnthropicMessagesResponse)!;
        Assert.Equal("ab", AnthropicContent.FromBlocks(response.Content!).JoinedText());

        var request = JsonSerializer.Deserialize(
            """{"model":"m","max_tokens":1,"system":"S","messages":[{"role":"user","content":"Q"}]}""",
            AnthropicJsonContext.Default.AnthropicMessagesRequest)!;
        Assert.Equal("S", request.System!.Text);
        Assert.Equal("Q", request.Messages[0].Content.Text);
    }

    [Fact]
    public void The_target_never_prints_its_key()
    {
        var target = new AnthropicUpstreamTarget("cloud-b", new Uri("http://127.0.0.1:1/v1"), "sk-secret-value", "m");
        Assert.DoesNotContain("sk-secret-value", target.ToString());
        Assert.Equal("http://127.0.0.1:1/v1/messages", target.MessagesUri.ToString());
        Assert.Equal("http://127.0.0.1:1/base/v1/messages", (target with { BaseUrl = new Uri("http://127.0.0.1:1/base/") }).MessagesUri.ToString());
    }
}
