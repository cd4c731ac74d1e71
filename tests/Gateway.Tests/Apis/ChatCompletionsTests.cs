using InferenceMesh.Gateway.Tests.Common;
using OpenAI.Chat;

namespace InferenceMesh.Gateway.Tests.Apis;

/// <summary>Needs the real engine and catalog: chat through the official OpenAI client (stories260K uses the fallback template).</summary>
public sealed class ChatCompletionsTests
{
    private static readonly ChatCompletionOptions Options = new() { Temperature = 0, MaxOutputTokenCount = 24 };

    [Fact]
    public async Task Official_client_completes_chat()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);

        ChatCompletion completion = await chat.CompleteChatAsync([new SystemChatMessage("You tell stories."), new UserChatMessage("Tell me a story.")], Options);

        Assert.False(string.IsNullOrEmpty(completion.Content[0].Text));
        Assert.Contains(completion.FinishReason, new[] { ChatFinishReason.Stop, ChatFinishReason.Length });
        Assert.Equal(TestEnvironment.Stories, completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 24);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task Official_client_streams_chat()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var chat = environment.OpenAi.GetChatClient(TestEnvironment.Stories);

        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Tell me a story.")], Options))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.False(string.IsNullOrEmpty(text.ToString()));
        Assert.NotNull(finish);
        Assert.NotNull(usage);
        Assert.InRange(usage.OutputTokenCount, 1, 24);
    }
}
