using System.ClientModel;
using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using OpenAI.Chat;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // the official client marks its Responses API experimental

namespace InferenceMesh.Gateway.Tests.Responses;

/// <summary>
/// <c>truncation</c>, <c>reasoning</c> and <c>text.verbosity</c> on the local model (real stories260K, official client where
/// it can say it): auto truncation answers as chat completions answers the conversation it keeps; reasoning and verbosity
/// are accepted and change nothing locally, and the response says so; bad values are a 400 naming the field.
/// </summary>
public sealed class ResponseSettingsTests
{
    private const string Instructions = "You tell stories.";

    /// <summary>Seven turns of about 25 tokens each, user first and last: far more than a 192-token context.</summary>
    private static readonly (string Role, string Text)[] Turns =
        [.. Enumerable.Range(0, 7).Select(i => (i % 2 == 0 ? "user" : "assistant", $"Turn {i}: the little cat walked to the park and saw a big red ball."))];

    private static CreateResponseOptions Conversation(ResponseTruncationMode? truncation)
    {
        var options = new CreateResponseOptions(TestEnvironment.Stories,
            [.. Turns.Select(t => t.Role == "user" ? ResponseItem.CreateUserMessageItem(t.Text) : ResponseItem.CreateAssistantMessageItem(t.Text))])
        {
            Instructions = Instructions, Temperature = 0, MaxOutputTokenCount = 8, TruncationMode = truncation,
        };
        return options;
    }

    [Fact]
    public async Task Auto_truncation_drops_the_oldest_items_until_the_conversation_fits_and_disabled_refuses_it()
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.ContextLength = 192);
        var client = environment.OpenAi.GetResponsesClient();

        // disabled (the default, and sent): the 400 naming the limit, as before.
        foreach (var truncation in new ResponseTruncationMode?[] { null, ResponseTruncationMode.Disabled })
        {
            var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.CreateResponseAsync(Conversation(truncation)));
            Assert.Equal(400, refused.Status);
            Assert.Contains("192 tokens", refused.Message, StringComparison.Ordinal);
        }

        // What chat completions accepts when the fewest oldest turns are left out (the instructions always kept).
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);
        ChatCompletion? expected = null;
        var dropped = 0;
        for (; dropped < Turns.Length && expected is null; dropped++)
        {
            try
            {
                expected = await chat.CompleteChatAsync(
                    [new SystemChatMessage(Instructions), .. Turns.Skip(dropped).Select(t => t.Role == "user" ? (ChatMessage)new UserChatMessage(t.Text) : new AssistantChatMessage(t.Text))],
                    new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 8 });
            }
            catch (ClientResultException e) when (e.Status == 400)
            {
            }
        }

        Assert.NotNull(expected);
        Assert.InRange(dropped - 1, 1, Turns.Length - 2); // some turns had to go, and more than the last one fits

        ResponseResult response = await client.CreateResponseAsync(Conversation(ResponseTruncationMode.Auto));

        Assert.Equal(ResponseTruncationMode.Auto, response.TruncationMode);
        Assert.False(string.IsNullOrEmpty(response.GetOutputText()));
        Assert.Equal(expected.Content[0].Text, response.GetOutputText());
        Assert.Equal(expected.Usage.InputTokenCount, response.Usage.InputTokenCount);
        Assert.InRange(response.Usage.InputTokenCount, 1, 191);
    }

    [Fact]
    public async Task Auto_truncation_of_a_conversation_that_fits_changes_nothing_and_is_echoed()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var client = environment.OpenAi.GetResponsesClient();

        ResponseResult auto = await client.CreateResponseAsync(Conversation(ResponseTruncationMode.Auto));
        ResponseResult disabled = await client.CreateResponseAsync(Conversation(null));

        Assert.Equal(ResponseTruncationMode.Auto, auto.TruncationMode);
        Assert.Equal(ResponseTruncationMode.Disabled, disabled.TruncationMode);
        Assert.Equal(disabled.GetOutputText(), auto.GetOutputText());
        Assert.Equal(disabled.Usage.InputTokenCount, auto.Usage.InputTokenCount);
    }

    [Fact]
    public async Task Reasoning_and_verbosity_are_accepted_the_local_model_answers_as_without_them_and_the_echo_says_it_did_not_reason()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var client = environment.OpenAi.GetResponsesClient();
        var plain = Conversation(null);
        var reasoning = Conversation(null);
        reasoning.ReasoningOptions = new ResponseReasoningOptions
        {
            ReasoningEffortLevel = ResponseReasoningEffortLevel.High, ReasoningSummaryVerbosity = ResponseReasoningSummaryVerbosity.Auto,
        };

        ResponseResult withReasoning = await client.CreateResponseAsync(reasoning);
        ResponseResult without = await client.CreateResponseAsync(plain);

        Assert.Equal(without.GetOutputText(), withReasoning.GetOutputText());
        Assert.Null(withReasoning.ReasoningOptions?.ReasoningEffortLevel);

        const string body = """{"model":"stories260K","input":"Once upon a time","max_output_tokens":2,"reasoning":{"effort":"low","summary":"concise"},"text":{"verbosity":"low"}}""";
        using var raw = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(body));
        var text = await raw.Content.ReadAsStringAsync();
        Assert.True(raw.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        Assert.Equal("""{"effort":null,"summary":null}""", json.RootElement.GetProperty("reasoning").GetRawText());
        Assert.Equal("""{"format":{"type":"text"},"verbosity":"low"}""", json.RootElement.GetProperty("text").GetRawText());
        Assert.Equal("disabled", json.RootElement.GetProperty("truncation").GetString());

        using var defaults = JsonDocument.Parse(await (await environment.Http.PostAsync("/v1/responses", ApiAssert.Json("""{"model":"stories260K","input":"Once upon a time","max_output_tokens":2}"""))).Content.ReadAsStringAsync());
        Assert.Equal("medium", defaults.RootElement.GetProperty("text").GetProperty("verbosity").GetString()); // OpenAI's default, echoed
    }

    [Theory]
    [InlineData("""{"truncation":"sometimes"}""", "truncation", "invalid_value")]
    [InlineData("""{"truncation":5}""", "truncation", "invalid_json")]
    [InlineData("""{"reasoning":"high"}""", "reasoning", "invalid_value")]
    [InlineData("""{"reasoning":{"effort":"extreme"}}""", "reasoning.effort", "invalid_value")]
    [InlineData("""{"reasoning":{"effort":3}}""", "reasoning.effort", "invalid_value")]
    [InlineData("""{"reasoning":{"summary":"verbose"}}""", "reasoning.summary", "invalid_value")]
    [InlineData("""{"reasoning":{"budget":3}}""", "reasoning.budget", "invalid_value")]
    [InlineData("""{"text":{"verbosity":"loud"}}""", "text.verbosity", "invalid_value")]
    [InlineData("""{"text":{"format":{"type":"text"},"verbosity":1}}""", "text.verbosity", "invalid_value")]
    public async Task A_bad_value_is_400_naming_the_field(string fields, string param, string code)
    {
        await using var environment = await TestEnvironment.StartAsync();
        var body = """{"model":"stories260K","input":"Once upon a time","max_output_tokens":2,""" + fields[1..];

        using var response = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(body));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: code);
        Assert.Equal("none", response.Headers.GetValues("X-InferenceMesh-Backend").Single()); // refused before any backend
    }
}
