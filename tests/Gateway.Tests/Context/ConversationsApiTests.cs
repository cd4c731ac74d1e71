using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using static InferenceMesh.Gateway.Tests.Context.ContextHttp;

namespace InferenceMesh.Gateway.Tests.Context;

/// <summary>The conversation endpoints on a real gateway: OpenAI's Conversations API shapes, paging, errors.</summary>
public sealed class ConversationsApiTests : IAsyncLifetime
{
    private TestEnvironment _gateway = null!;

    private HttpClient Http => _gateway.Http;

    public async Task InitializeAsync() => _gateway = await TestEnvironment.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Create_get_update_and_delete_in_openai_shape()
    {
        var created = await PostAsync(Http, "/v1/conversations",
            """{"metadata":{"topic":"demo"},"items":[{"type":"message","role":"user","content":"Hello!"},{"role":"assistant","content":[{"type":"output_text","text":"Hi."}]}]}""");
        var id = created.GetProperty("id").GetString()!;
        Assert.Matches("^conv_[0-9a-f]{32}$", id);
        Assert.Equal("conversation", created.GetProperty("object").GetString());
        Assert.Equal("demo", created.GetProperty("metadata").GetProperty("topic").GetString());
        Assert.True(created.GetProperty("created_at").GetInt64() > 1_700_000_000);
        Assert.Equal("public", created.GetProperty("privacy").GetString());

        var read = await GetAsync(Http, $"/v1/conversations/{id}");
        Assert.Equal(id, read.GetProperty("id").GetString());

        var updated = await PostAsync(Http, $"/v1/conversations/{id}", """{"metadata":{"topic":"changed"}}""");
        Assert.Equal("changed", updated.GetProperty("metadata").GetProperty("topic").GetString());

        var items = await GetAsync(Http, $"/v1/conversations/{id}/items?order=asc");
        Assert.Equal("list", items.GetProperty("object").GetString());
        var data = items.GetProperty("data");
        Assert.Equal(2, data.GetArrayLength());
        var first = data[0];
        Assert.Equal("message", first.GetProperty("type").GetString());
        Assert.Equal("completed", first.GetProperty("status").GetString());
        Assert.Equal("user", first.GetProperty("role").GetString());
        Assert.Equal("input_text", first.GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal("Hello!", first.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("output_text", data[1].GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal(first.GetProperty("id").GetString(), items.GetProperty("first_id").GetString());
        Assert.Equal(data[1].GetProperty("id").GetString(), items.GetProperty("last_id").GetString());
        Assert.False(items.GetProperty("has_more").GetBoolean());

        var deleted = await SendAsync(Http, HttpMethod.Delete, $"/v1/conversations/{id}");
        Assert.Equal(id, deleted.GetProperty("id").GetString());
        Assert.Equal("conversation.deleted", deleted.GetProperty("object").GetString());
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        await ErrorAsync(Http, HttpMethod.Get, $"/v1/conversations/{id}", null, HttpStatusCode.NotFound, code: "conversation_not_found");
        await ErrorAsync(Http, HttpMethod.Get, $"/v1/conversations/{id}/items", null, HttpStatusCode.NotFound, code: "conversation_not_found");
    }

    [Fact]
    public async Task Items_are_added_listed_paged_fetched_and_deleted()
    {
        var id = await CreateConversationAsync(Http);
        var added = await PostAsync(Http, $"/v1/conversations/{id}/items",
            """{"items":[{"role":"user","content":"one"},{"role":"user","content":"two"},{"role":"user","content":"three"}]}""");
        Assert.Equal(3, added.GetProperty("data").GetArrayLength());

        // Default order is newest first, as OpenAI's.
        var page = await GetAsync(Http, $"/v1/conversations/{id}/items?limit=2");
        Assert.Equal(["three", "two"], page.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("content")[0].GetProperty("text").GetString()));
        Assert.True(page.GetProperty("has_more").GetBoolean());
        var rest = await GetAsync(Http, $"/v1/conversations/{id}/items?limit=2&after={page.GetProperty("last_id").GetString()}");
        Assert.Equal("one", Assert.Single(rest.GetProperty("data").EnumerateArray()).GetProperty("content")[0].GetProperty("text").GetString());
        Assert.False(rest.GetProperty("has_more").GetBoolean());

        var itemId = rest.GetProperty("first_id").GetString()!;
        var item = await GetAsync(Http, $"/v1/conversations/{id}/items/{itemId}");
        Assert.Equal(itemId, item.GetProperty("id").GetString());

        var afterDelete = await SendAsync(Http, HttpMethod.Delete, $"/v1/conversations/{id}/items/{itemId}");
        Assert.Equal("conversation", afterDelete.GetProperty("object").GetString()); // OpenAI answers with the conversation
        await ErrorAsync(Http, HttpMethod.Get, $"/v1/conversations/{id}/items/{itemId}", null, HttpStatusCode.NotFound, "item_id", "item_not_found");
        Assert.Equal(["two", "three"], (await ItemsAsync(Http, id)).Select(i => i.Text));
    }

    [Fact]
    public async Task Our_list_of_conversations_pages_newest_first()
    {
        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add(await CreateConversationAsync(Http));

        var page = await GetAsync(Http, "/v1/conversations?limit=2");
        Assert.Equal([ids[2], ids[1]], page.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        Assert.True(page.GetProperty("has_more").GetBoolean());
        var asc = await GetAsync(Http, "/v1/conversations?order=asc&limit=100");
        Assert.Equal(ids, asc.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToList());
    }

    // A client paging while entries are deleted: the cursor it holds names a deleted entry. Before, that was a 400
    // ("'after' names no entry of this list"); now the list goes on from the deleted entry's place.
    [Fact]
    public async Task Paging_goes_on_after_a_conversation_or_item_deleted_meanwhile()
    {
        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add(await CreateConversationAsync(Http));
        await SendAsync(Http, HttpMethod.Delete, $"/v1/conversations/{ids[1]}");
        var rest = await GetAsync(Http, $"/v1/conversations?order=asc&after={ids[1]}");
        Assert.Equal([ids[2]], rest.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToList());

        var id = await CreateConversationAsync(Http);
        var added = await PostAsync(Http, $"/v1/conversations/{id}/items", """{"items":[{"role":"user","content":"one"},{"role":"user","content":"two"},{"role":"user","content":"three"}]}""");
        var items = added.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToList();
        await SendAsync(Http, HttpMethod.Delete, $"/v1/conversations/{id}/items/{items[1]}");
        var after = await GetAsync(Http, $"/v1/conversations/{id}/items?order=asc&after={items[1]}");
        Assert.Equal([items[2]], after.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToList());
        var before = await GetAsync(Http, $"/v1/conversations/{id}/items?after={items[1]}");
        Assert.Equal([items[0]], before.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToList());

        // An item of another conversation was never an entry of this list.
        await ErrorAsync(Http, HttpMethod.Get, $"/v1/conversations/{ids[0]}/items?after={items[0]}", null, HttpStatusCode.BadRequest, "after");
        // Given empty is as not given (files and vector stores did so already; this was a 400).
        var all = await GetAsync(Http, "/v1/conversations?limit=&order=&after=");
        Assert.Equal(3, all.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Items_added_with_a_card_number_make_the_conversation_confidential()
    {
        var id = await CreateConversationAsync(Http);
        await PostAsync(Http, $"/v1/conversations/{id}/items", $$"""{"items":[{"role":"user","content":"my card is {{Routing.RoutingHarness.Card}}"}]}""");
        var conversation = await GetAsync(Http, $"/v1/conversations/{id}");
        Assert.Contains(conversation.GetProperty("privacy").GetString(), new[] { "confidential", "restricted" });
    }

    [Fact]
    public async Task The_privacy_header_raises_the_level_of_items_added_by_hand_and_a_bad_one_is_refused()
    {
        using var create = new HttpRequestMessage(HttpMethod.Post, "/v1/conversations") { Content = ApiAssert.Json("""{"items":[{"role":"user","content":"plain words"}]}""") };
        create.Headers.Add("X-InferenceMesh-Privacy", "confidential");
        using var created = await Http.SendAsync(create);
        using var json = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        Assert.Equal("confidential", json.RootElement.GetProperty("privacy").GetString());

        using var bad = new HttpRequestMessage(HttpMethod.Post, "/v1/conversations") { Content = ApiAssert.Json("{}") };
        bad.Headers.Add("X-InferenceMesh-Privacy", "secret");
        await ApiAssert.ErrorAsync(await Http.SendAsync(bad), HttpStatusCode.BadRequest, "X-InferenceMesh-Privacy");
    }

    [Theory]
    [InlineData("GET", "/v1/conversations/conv_123", null, "conversation_id")]
    [InlineData("GET", "/v1/conversations/CONV_00000000000000000000000000000000", null, "conversation_id")]
    [InlineData("GET", "/v1/conversations/conv_00000000000000000000000000000000/items/msg_x", null, "item_id")]
    [InlineData("GET", "/v1/conversations?limit=0", null, "limit")]
    [InlineData("GET", "/v1/conversations?limit=101", null, "limit")]
    [InlineData("GET", "/v1/conversations?order=up", null, "order")]
    [InlineData("GET", "/v1/conversations?after=nope", null, "after")]
    [InlineData("GET", "/v1/conversations?after=msg_00000000000000000000000000000000", null, "after")]
    [InlineData("GET", "/v1/conversations?before=conv_00000000000000000000000000000000", null, "before")] // was ignored
    [InlineData("GET", "/v1/conversations?limit=-1", null, "limit")]
    [InlineData("GET", "/v1/conversations?limit=abc", null, "limit")]
    [InlineData("GET", "/v1/conversations/conv_00000000000000000000000000000000/items?after=conv_00000000000000000000000000000000", null, "after")]
    [InlineData("GET", "/v1/conversations/conv_00000000000000000000000000000000/items?before=x", null, "before")]
    [InlineData("GET", "/v1/conversations/conv_00000000000000000000000000000000/items?order=ASC", null, "order")]
    [InlineData("POST", "/v1/conversations", """{"items":[{"role":"wizard","content":"x"}]}""", "items[0].role")]
    [InlineData("POST", "/v1/conversations", """{"items":[{"role":"user","content":42}]}""", "items[0].content")]
    [InlineData("POST", "/v1/conversations", """{"items":[{"type":"input_image","role":"user","content":"x"}]}""", "items[0].type")]
    [InlineData("POST", "/v1/conversations", """{"items":[{"type":"function_call","role":"user","content":"x"}]}""", "items[0].call_id")]
    [InlineData("POST", "/v1/conversations", """{"items":[{"type":"function_call","call_id":"c1","arguments":"{}"}]}""", "items[0].name")]
    [InlineData("POST", "/v1/conversations", """{"items":[{"type":"function_call","call_id":"c1","name":"f","arguments":"{not json"}]}""", "items[0].arguments")]
    [InlineData("POST", "/v1/conversations", """{"items":[{"type":"function_call_output","call_id":"c1"}]}""", "items[0].output")]
    [InlineData("POST", "/v1/conversations", """{"items":[{"role":"user","content":[{"type":"input_image","image_url":"x"}]}]}""", "items[0].content")]
    [InlineData("POST", "/v1/conversations", """{"metadata":{"k":7}}""", "metadata.k")]
    [InlineData("POST", "/v1/conversations", """{"metadata": """, null)]
    [InlineData("POST", "/v1/conversations", "[1,2]", null)]
    public async Task Malformed_ids_parameters_and_bodies_are_400_in_openai_shape(string method, string path, string? json, string? param)
    {
        var error = await ErrorAsync(Http, new HttpMethod(method), path, json, HttpStatusCode.BadRequest);
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Too_many_items_or_metadata_pairs_are_refused()
    {
        var items = string.Join(",", Enumerable.Range(0, 21).Select(i => $$"""{"role":"user","content":"{{i}}"}"""));
        await ErrorAsync(Http, HttpMethod.Post, "/v1/conversations", $$"""{"items":[{{items}}]}""", HttpStatusCode.BadRequest, "items");
        var metadata = string.Join(",", Enumerable.Range(0, 17).Select(i => $"\"k{i}\":\"v\""));
        await ErrorAsync(Http, HttpMethod.Post, "/v1/conversations", "{\"metadata\":{" + metadata + "}}", HttpStatusCode.BadRequest, "metadata");
        var id = await CreateConversationAsync(Http);
        await ErrorAsync(Http, HttpMethod.Post, $"/v1/conversations/{id}/items", """{"items":[]}""", HttpStatusCode.BadRequest, "items");
        await ErrorAsync(Http, HttpMethod.Post, $"/v1/conversations/{id}", "{}", HttpStatusCode.BadRequest, "metadata");
    }

    [Fact]
    public async Task Unknown_ids_are_404_in_openai_shape()
    {
        var unknown = "conv_" + new string('a', 32);
        await ErrorAsync(Http, HttpMethod.Get, $"/v1/conversations/{unknown}", null, HttpStatusCode.NotFound, "conversation_id", "conversation_not_found");
        await ErrorAsync(Http, HttpMethod.Delete, $"/v1/conversations/{unknown}", null, HttpStatusCode.NotFound);
        await ErrorAsync(Http, HttpMethod.Post, $"/v1/conversations/{unknown}/items", """{"items":[{"role":"user","content":"x"}]}""", HttpStatusCode.NotFound);
        var id = await CreateConversationAsync(Http);
        await ErrorAsync(Http, HttpMethod.Delete, $"/v1/conversations/{id}/items/msg_{new string('b', 32)}", null, HttpStatusCode.NotFound, "item_id");
        await ErrorAsync(Http, HttpMethod.Get, $"/v1/conversations/{id}/items?after=msg_{new string('b', 32)}", null, HttpStatusCode.BadRequest, "after");
    }
}
