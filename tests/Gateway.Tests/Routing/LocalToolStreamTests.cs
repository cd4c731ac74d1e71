using System.Text;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Tests.Common;
using OpenAI.Chat;
using ChatMessage = OpenAI.Chat.ChatMessage;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// A local tool answer streamed as it is generated, through the official client against a scripted engine (real host,
/// real Kestrel) whose pieces cut the envelope at awkward places: inside escapes, between the halves of a surrogate
/// pair, after a lone backslash.
/// </summary>
public sealed class LocalToolStreamTests
{
    private static readonly ChatTool Echo = ChatTool.CreateFunctionTool("echo", "Echoes.", BinaryData.FromString("""{"type":"object","properties":{"text":{"type":"string"}}}"""));

    private static readonly ChatMessage[] Question = [new UserChatMessage("hi")];

    private static async Task<(TestEnvironment Environment, FakeEngine Engine)> StartAsync(string[] pieces, FinishReason finishReason = FinishReason.Stop)
    {
        var engine = new FakeEngine();
        engine.Model.OnStart = _ => EngineResult<IGeneration>.Ok(new FakeGeneration(pieces, new GenerationOutcome(finishReason, 3, pieces.Length)));
        return (await TestEnvironment.StartAsync(e => e.ConfigureBuilder = engine.Register), engine);
    }

    [Fact]
    public async Task A_text_answer_streams_its_decoded_text_as_it_comes()
    {
        string[] pieces = ["{\"response\": \"Hel", "lo \\", "\"wor", "ld\\\"", " \\ud83d", "\\ude00 é", " \\", "n", "\"}"];
        var (environment, _) = await StartAsync(pieces);
        await using var owned = environment;
        var chat = environment.OpenAi.GetChatClient(FakeEngine.ModelId);
        var options = new ChatCompletionOptions { Tools = { Echo } };

        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in chat.CompleteChatStreamingAsync(Question, options))
        {
            updates.Add(update);
        }

        ChatCompletion whole = await chat.CompleteChatAsync(Question, options);

        const string expected = "Hello \"world\" 😀 é \n";
        var texts = updates.Where(u => u.FinishReason is null).Select(u => string.Concat(u.ContentUpdate.Select(p => p.Text))).Where(t => t.Length > 0).ToList();
        Assert.True(texts.Count > 1, $"{texts.Count} content updates");
        Assert.Equal(expected, string.Concat(texts));
        Assert.Equal(ChatFinishReason.Stop, updates.Last(u => u.FinishReason is not null).FinishReason);
        Assert.Empty(updates.SelectMany(u => u.ToolCallUpdates));
        Assert.Equal(expected, whole.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, whole.FinishReason);
    }

    [Fact]
    public async Task Calls_stream_one_after_the_other_and_their_arguments_add_up_to_the_text_written()
    {
        string[] pieces =
        [
            """{"tool_calls": [{"name": "ec""", "ho\", \"arguments\": {\"text\": \"a\\", "\" \\\\", "\\u00", "e9 \\ud83d",
            """\ude00 😀"}}, {"name": "echo", "argum""", """ents": {}}]}""",
        ];
        var (environment, _) = await StartAsync(pieces);
        await using var owned = environment;
        var chat = environment.OpenAi.GetChatClient(FakeEngine.ModelId);
        var options = new ChatCompletionOptions { Tools = { Echo } };

        var calls = new SortedDictionary<int, (string? Id, string? Name, StringBuilder Arguments)>();
        var argumentUpdates = 0;
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(Question, options))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                var entry = calls.TryGetValue(call.Index, out var known) ? known : (call.ToolCallId, call.FunctionName, new StringBuilder());
                var fragment = call.FunctionArgumentsUpdate?.ToString() ?? string.Empty;
                argumentUpdates += fragment.Length > 0 ? 1 : 0;
                entry.Item3.Append(fragment);
                calls[call.Index] = entry;
            }

            finish = update.FinishReason ?? finish;
        }

        ChatCompletion whole = await chat.CompleteChatAsync(Question, options);

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.True(argumentUpdates > 2, $"{argumentUpdates} argument updates");
        Assert.Equal([("echo", """{"text": "a\" \\\u00e9 \ud83d\ude00 😀"}"""), ("echo", "{}")], calls.Values.Select(c => (c.Name!, c.Arguments.ToString())));
        Assert.All(calls.Values, c => Assert.StartsWith("call_", c.Id));
        Assert.Equal(2, calls.Values.Select(c => c.Id).Distinct().Count());
        Assert.Equal(calls.Values.Select(c => (c.Name!, c.Arguments.ToString())), whole.ToolCalls.Select(c => (c.FunctionName, c.FunctionArguments.ToString())));
        Assert.Equal(ChatFinishReason.ToolCalls, whole.FinishReason);
    }
}
