using System.ClientModel;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;
using Microsoft.Data.Sqlite;
using OpenAI.Chat;

namespace InferenceMesh.Gateway.Tests.Context;

/// <summary>
/// The acceptance, end to end with the real OpenAI .NET client and the real local model: a chat with
/// <c>"store": true</c> and a conversation is listed by <c>GET /v1/conversations/{id}/items</c> after a restart of the
/// gateway on the same <c>--data</c> folder.
/// </summary>
public sealed class ConversationAcceptanceTests : IDisposable
{
    private readonly string _data = TestPaths.NewTempDir("im-accept");

    public void Dispose()
    {
        Directory.Delete(_data, recursive: true);
    }

#pragma warning disable OPENAI001, SCME0001 // the Conversations client and JsonPatch are marked experimental
    [Fact]
    public async Task A_stored_chat_turn_is_listed_after_a_restart_on_the_same_data_folder()
    {
        string conversationId;
        string answer;
        await using (var first = await TestEnvironment.StartAsync(env => env.DataDirectory = _data))
        {
            var conversations = first.OpenAi.GetConversationClient();
            var created = await conversations.CreateConversationAsync(BinaryContent.Create(BinaryData.FromString("""{"metadata":{"test":"acceptance"}}""")));
            using (var json = JsonDocument.Parse(created.GetRawResponse().Content))
            {
                conversationId = json.RootElement.GetProperty("id").GetString()!;
            }

            var options = new ChatCompletionOptions { StoredOutputEnabled = true, MaxOutputTokenCount = 24, Temperature = 0 };
            options.Patch.Set("$.conversation"u8, conversationId);
            ChatCompletion completion = await first.OpenAi.GetChatClient(TestEnvironment.Stories).CompleteChatAsync([new UserChatMessage("Once upon a time")], options);
            answer = completion.Content[0].Text;
            Assert.False(string.IsNullOrWhiteSpace(answer));
        }

        await using var second = await TestEnvironment.StartAsync(env => env.DataDirectory = _data);
        var items = new List<JsonElement>();
        await foreach (var page in second.OpenAi.GetConversationClient().GetConversationItemsAsync(conversationId, limit: 100, order: "asc").GetRawPagesAsync())
        {
            using var json = JsonDocument.Parse(page.GetRawResponse().Content);
            items.AddRange(json.RootElement.GetProperty("data").EnumerateArray().Select(i => i.Clone()));
        }

        Assert.Equal(2, items.Count);
        Assert.Equal(("user", "Once upon a time"), (items[0].GetProperty("role").GetString(), items[0].GetProperty("content")[0].GetProperty("text").GetString()));
        Assert.Equal(("assistant", answer), (items[1].GetProperty("role").GetString(), items[1].GetProperty("content")[0].GetProperty("text").GetString()));
        Assert.Equal("local", items[1].GetProperty("backend").GetString());

        // The stored history goes before the next message: the model continues from it.
        var next = await ContextHttp.PostAsync(second.Http, "/v1/chat/completions",
            $$"""{"model":"{{TestEnvironment.Stories}}","max_tokens":4,"temperature":0,"conversation":{"id":"{{conversationId}}"},"messages":[{"role":"user","content":"And then?"}]}""");
        Assert.Equal("chat.completion", next.GetProperty("object").GetString());
        Assert.Equal(4, (await ContextHttp.ItemsAsync(second.Http, conversationId)).Count);
    }
#pragma warning restore OPENAI001, SCME0001
}
