using System.ClientModel;
using System.Net;
using InferenceMesh.Gateway.Tests.Common;
using OpenAI.Chat;

namespace InferenceMesh.Gateway.Tests.Inference;

/// <summary>OpenAI chat fields the local model cannot honour are a 400 naming the field, never silently ignored; their neutral values pass.</summary>
public sealed class LocalFeaturesTests
{

    [Theory]
    [InlineData("""{"tools":[{"type":"code_interpreter"}]}""", "tools[0].type")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f","strict":true,"parameters":{"type":"object","properties":{"at":{"type":"string","format":"date"}}}}}]}""", "tools[0].function.parameters")]
    [InlineData("""{"functions":[{"name":"f"}]}""", "functions")]
    [InlineData("""{"function_call":{"name":"f"}}""", "function_call")]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"^a"}}}}""", "response_format.json_schema.schema")]
    [InlineData("""{"response_format":{"type":"xml"}}""", "response_format.type")]
    [InlineData("""{"modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"}}""", "audio")]
    [InlineData("""{"modalities":["audio"]}""", "modalities")]
    public async Task A_field_the_local_model_cannot_honour_is_400_naming_it(string fields, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await ChatFields.PostAsync(environment, fields);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "unsupported_parameter");
    }

    [Theory]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"}""")]
    [InlineData("""{"tools":[],"tool_choice":"auto"}""")]
    [InlineData("""{"response_format":{"type":"text"}}""")]
    [InlineData("""{"logprobs":false,"top_logprobs":null,"response_format":null,"modalities":["text"]}""")]
    public async Task Neutral_values_of_those_fields_are_served(string fields)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await ChatFields.PostAsync(environment, fields);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Official_client_asking_for_a_strict_tool_or_a_schema_it_cannot_guarantee_gets_a_400_it_can_read()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        var when = BinaryData.FromString("""{"type":"object","properties":{"at":{"type":"string","format":"date-time"}}}""");
        var tool = new ChatCompletionOptions { MaxOutputTokenCount = 2, Tools = { ChatTool.CreateFunctionTool("book", "Books a slot.", when, functionSchemaIsStrict: true) } };
        var schema = new ChatCompletionOptions { MaxOutputTokenCount = 2, ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("when", when) };

        var toolError = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("Book it")], tool));
        var schemaError = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("When?")], schema));

        Assert.Equal(400, toolError.Status);
        Assert.Contains("#.properties.at: 'format' is not supported", toolError.Message);
        Assert.Equal(400, schemaError.Status);
        Assert.Contains("#.properties.at: 'format' is not supported", schemaError.Message);
    }
}
