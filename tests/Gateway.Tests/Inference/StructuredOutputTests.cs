using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using OpenAI.Chat;

namespace InferenceMesh.Gateway.Tests.Inference;

/// <summary>
/// response_format on the local model, through the official client: a grammar keeps every token inside the JSON the
/// client asked for. stories260K writes stories, never JSON, so any JSON here is the grammar's doing.
/// </summary>
public sealed class StructuredOutputTests
{
    private const string PersonSchema = """
        {"type":"object","additionalProperties":false,
         "properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"},
                       "tags":{"type":"array","items":{"enum":["cat","dog","sun"]},"maxItems":3},
                       "note":{"type":"string","maxLength":5}},
         "required":["name","age","tags"]}
        """;

    [Fact]
    public async Task A_json_schema_answer_parses_and_conforms_streamed_or_not()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        var options = new ChatCompletionOptions
        {
            Temperature = 0,
            MaxOutputTokenCount = 600, // the schema bounds every string, list and number: the object ends well before
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(PersonSchema), jsonSchemaIsStrict: true),
        };
        ChatMessage[] messages = [new UserChatMessage("Once upon a time")];

        ChatCompletion completion = await chat.CompleteChatAsync(messages, options);
        var streamed = new StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }

        var text = completion.Content[0].Text;
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(text, streamed.ToString());
        using var json = JsonDocument.Parse(text);
        var person = json.RootElement;
        Assert.Equal(JsonValueKind.Object, person.ValueKind);
        Assert.InRange(person.GetProperty("name").GetString()!.Length, 0, 12);
        Assert.True(person.GetProperty("age").TryGetInt64(out _), text);
        Assert.All(person.GetProperty("tags").EnumerateArray(), t => Assert.Contains(t.GetString(), new[] { "cat", "dog", "sun" }));
        Assert.InRange(person.GetProperty("tags").GetArrayLength(), 0, 3);
        Assert.All(person.EnumerateObject(), p => Assert.Contains(p.Name, new[] { "name", "age", "tags", "note" }));
    }

    [Fact]
    public async Task A_json_object_answer_is_json_from_its_first_token()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 48, ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() };

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Once upon a time")], options);

        var text = completion.Content[0].Text;
        Assert.StartsWith("{", text);
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text), isFinalBlock: completion.FinishReason == ChatFinishReason.Stop, state: default);
        while (reader.Read())
        {
            // Throws at the first byte that is not JSON; a text cut by max_tokens may end anywhere inside the object.
        }
    }

    // Found by the body fuzzer: llama.cpp's grammar parser refuses more than 2000 repetitions (and a repeated group's inner
    // rules count against that limit too), which came back as 400 "The grammar does not parse." naming 'grammar', a field
    // the request does not have.
    [Theory]
    [InlineData("""{"type":"array","items":{"enum":["cat","dog"]},"minItems":2000}""")]
    [InlineData("""{"type":"string","minLength":2000,"maxLength":2000}""")]
    public async Task A_schema_at_the_repetition_limit_is_served(string schema)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(WithSchema(schema)));

        Assert.True(response.StatusCode == System.Net.HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("""{"type":"string","minLength":2001}""", "#.minLength: must be an integer from 0 to 2000")]
    [InlineData("""{"type":"array","items":{"type":"string"},"maxItems":5000}""", "#.maxItems: must be an integer from 0 to 2000")]
    [InlineData("""{"anyOf":[{"$ref":"#"},{"type":"string"}]}""", "#.anyOf[0].$ref: '#' refers to itself before any of its value is written")]
    public async Task A_schema_llama_cpp_would_refuse_is_400_naming_the_keyword(string schema, string message)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(WithSchema(schema)));

        var error = await ApiAssert.ErrorAsync(response, System.Net.HttpStatusCode.BadRequest, param: "response_format.json_schema.schema");
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private static string WithSchema(string schema) =>
        """{"model":"stories260K","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":2,"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":"""
        + schema + "}}}";
}
