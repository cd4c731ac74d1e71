using System.ClientModel;
using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Gateway.Tests.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // the official client marks its Responses API experimental

namespace InferenceMesh.Gateway.Tests.Responses;

/// <summary>
/// What is served about a stored response, on the real gateway with stories260K and the official client: the items it was
/// generated from (GET /v1/responses/{id}/input_items, paged as OpenAI pages), cancelling (refused as OpenAI refuses a
/// response that did not run in the background) and its expiry (<c>--response-retention-days</c>, on a fake clock).
/// </summary>
public sealed class StoredResponseTests
{
    private const string Stories = TestEnvironment.Stories;

    private static CreateResponseOptions Greedy(params ResponseItem[] input) => new(Stories, input) { Temperature = 0, MaxOutputTokenCount = 4 };

    [Fact]
    public async Task Input_items_are_the_input_in_the_responses_item_shape_with_ids_newest_first_by_default_and_paged()
    {
        await using var environment = await TestEnvironment.StartAsync();
        const string body = """
            {"model":"stories260K","max_output_tokens":4,"temperature":0,"instructions":"Not an input item.","input":[
              {"role":"developer","content":"Be brief."},
              {"type":"message","role":"user","content":"What is the weather?"},
              {"type":"function_call","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}"},
              {"type":"function_call_output","call_id":"call_1","output":"18 C"},
              {"role":"assistant","content":[{"type":"output_text","text":"It is mild."}]},
              {"role":"user","content":[{"type":"input_text","text":"Thanks."},{"type":"input_text","text":"Bye."}]}]}
            """;
        using var created = await environment.Http.PostAsync("/v1/responses", ApiAssert.Json(body));
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;

        using var all = JsonDocument.Parse(await environment.Http.GetStringAsync($"/v1/responses/{id}/input_items?order=asc"));
        var root = all.RootElement;
        Assert.Equal("list", root.GetProperty("object").GetString());
        var items = root.GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal(["message", "message", "function_call", "function_call_output", "message", "message"], items.Select(i => i.GetProperty("type").GetString()));
        Assert.Equal(items.Length, items.Select(i => i.GetProperty("id").GetString()).Distinct().Count());
        Assert.All(items, i => Assert.Equal("completed", i.GetProperty("status").GetString()));
        Assert.Equal(items[0].GetProperty("id").GetString(), root.GetProperty("first_id").GetString());
        Assert.Equal(items[^1].GetProperty("id").GetString(), root.GetProperty("last_id").GetString());
        Assert.False(root.GetProperty("has_more").GetBoolean());
        Assert.Equal("developer", items[0].GetProperty("role").GetString());
        Assert.Equal("""[{"type":"input_text","text":"What is the weather?"}]""", items[1].GetProperty("content").GetRawText());
        Assert.Equal(("call_1", "weather", """{"city":"Paris"}"""),
            (items[2].GetProperty("call_id").GetString(), items[2].GetProperty("name").GetString(), items[2].GetProperty("arguments").GetString()));
        Assert.Equal(("call_1", "18 C"), (items[3].GetProperty("call_id").GetString(), items[3].GetProperty("output").GetString()));
        Assert.Equal("It is mild.", items[4].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(2, items[5].GetProperty("content").GetArrayLength());

        // Pages of two, newest first (the default order), each starting after the last id of the one before.
        var pages = new List<string>();
        string? after = null;
        bool more;
        do
        {
            using var page = JsonDocument.Parse(await environment.Http.GetStringAsync($"/v1/responses/{id}/input_items?limit=2" + (after is null ? "" : $"&after={after}")));
            var data = page.RootElement.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToArray();
            Assert.Equal(2, data.Length);
            pages.AddRange(data);
            after = page.RootElement.GetProperty("last_id").GetString();
            more = page.RootElement.GetProperty("has_more").GetBoolean();
        }
        while (more);

        Assert.Equal(items.Select(i => i.GetProperty("id").GetString()).Reverse(), pages);

        // The official client reads the same list, and pages through it itself.
        var client = environment.OpenAi.GetResponsesClient();
        var listed = new List<ResponseItem>();
        await foreach (var item in client.GetResponseInputItemsAsync(new ResponseItemCollectionOptions(id) { PageSizeLimit = 4, Order = ResponseItemCollectionOrder.Ascending }))
        {
            listed.Add(item);
        }

        Assert.Equal(items.Select(i => i.GetProperty("id").GetString()), listed.Select(i => i.Id));
        Assert.Equal(MessageRole.Developer, Assert.IsAssignableFrom<MessageResponseItem>(listed[0]).Role);
        Assert.Equal("weather", Assert.IsAssignableFrom<FunctionCallResponseItem>(listed[2]).FunctionName);
        Assert.Equal("18 C", Assert.IsAssignableFrom<FunctionCallOutputResponseItem>(listed[3]).FunctionOutput);
    }

    [Fact]
    public async Task A_chained_responses_input_items_are_the_earlier_turns_and_its_own_input()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var client = environment.OpenAi.GetResponsesClient();
        ResponseResult first = await client.CreateResponseAsync(Greedy(ResponseItem.CreateUserMessageItem("Once upon a time")));
        var second = Greedy(ResponseItem.CreateUserMessageItem("What happened next?"));
        second.PreviousResponseId = first.Id;
        ResponseResult next = await client.CreateResponseAsync(second);

        var items = new List<ResponseItem>();
        await foreach (var item in client.GetResponseInputItemsAsync(new ResponseItemCollectionOptions(next.Id) { Order = ResponseItemCollectionOrder.Ascending }))
        {
            items.Add(item);
        }

        Assert.Equal(3, items.Count);
        Assert.Equal("Once upon a time", Assert.IsAssignableFrom<MessageResponseItem>(items[0]).Content.Single().Text);
        Assert.Equal(first.OutputItems.Single().Id, items[1].Id); // the earlier output, as it was answered
        Assert.Equal(first.GetOutputText(), Assert.IsAssignableFrom<MessageResponseItem>(items[1]).Content.Single().Text);
        Assert.Equal("What happened next?", Assert.IsAssignableFrom<MessageResponseItem>(items[2]).Content.Single().Text);

        var own = new List<ResponseItem>();
        await foreach (var item in client.GetResponseInputItemsAsync(first.Id))
        {
            own.Add(item);
        }

        Assert.Equal("Once upon a time", Assert.IsAssignableFrom<MessageResponseItem>(Assert.Single(own)).Content.Single().Text);
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=101", "limit")]
    [InlineData("?order=sideways", "order")]
    [InlineData("?after=nonsense", "after")]
    [InlineData("?after=msg_0123456789abcdef01234567", "after")] // the shape of an id, but of no item of this list
    [InlineData("?before=msg_0123456789abcdef01234567", "before")]
    public async Task A_bad_list_parameter_is_400_naming_it(string query, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();
        ResponseResult response = await environment.OpenAi.GetResponsesClient().CreateResponseAsync(Greedy(ResponseItem.CreateUserMessageItem("Once upon a time")));

        using var listed = await environment.Http.GetAsync($"/v1/responses/{response.Id}/input_items{query}");

        await ApiAssert.ErrorAsync(listed, HttpStatusCode.BadRequest, param: param, code: "invalid_value");
    }

    [Fact]
    public async Task Cancelling_a_stored_response_is_openais_400_for_a_response_that_did_not_run_in_the_background()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var client = environment.OpenAi.GetResponsesClient();
        ResponseResult response = await client.CreateResponseAsync(Greedy(ResponseItem.CreateUserMessageItem("Once upon a time")));

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.CancelResponseAsync(response.Id));
        using var raw = await environment.Http.PostAsync($"/v1/responses/{response.Id}/cancel", null);

        Assert.Equal(400, refused.Status);
        var error = await ApiAssert.ErrorAsync(raw, HttpStatusCode.BadRequest);
        Assert.StartsWith("Cannot cancel a synchronous response. Only responses created with background true can be cancelled", error.GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.Equal(response.Status, (await client.GetResponseAsync(response.Id)).Value.Status); // left as it was
    }

    [Fact]
    public async Task A_stored_response_is_never_served_after_the_retention_flag_and_is_then_purged()
    {
        var data = Path.Combine(Path.GetTempPath(), "im-data-" + Guid.NewGuid().ToString("N"));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var environment = await TestEnvironment.StartAsync(env =>
        {
            env.DataDirectory = data;
            env.ExtraArgs.AddRange(["--response-retention-days", "1"]);
            env.ConfigureBuilder = builder => builder.Services.AddSingleton<TimeProvider>(time);
        });
        var client = environment.OpenAi.GetResponsesClient();
        time.Advance(TimeSpan.FromMinutes(30)); // stored half-way between two of the hourly purges, so none runs at the moment it expires
        ResponseResult response = await client.CreateResponseAsync(Greedy(ResponseItem.CreateUserMessageItem("Once upon a time")));

        time.Advance(TimeSpan.FromDays(1) - TimeSpan.FromMinutes(1));
        Assert.Equal(response.Id, (await client.GetResponseAsync(response.Id)).Value.Id);
        Assert.Equal(1, StoredRows(data));

        time.Advance(TimeSpan.FromMinutes(2)); // a day and a minute old: expired, though the hourly purge has not come yet
        Assert.Equal(1, StoredRows(data));
        foreach (var (method, url) in new[] { ("GET", $"/v1/responses/{response.Id}"), ("GET", $"/v1/responses/{response.Id}/input_items"), ("POST", $"/v1/responses/{response.Id}/cancel"), ("DELETE", $"/v1/responses/{response.Id}") })
        {
            using var gone = await environment.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), url));
            await ApiAssert.ErrorAsync(gone, HttpStatusCode.NotFound, code: "response_not_found");
        }

        using var chained = await environment.Http.PostAsync("/v1/responses",
            ApiAssert.Json($$"""{"model":"stories260K","input":"And then?","max_output_tokens":2,"previous_response_id":"{{response.Id}}"}"""));
        await ApiAssert.ErrorAsync(chained, HttpStatusCode.BadRequest, param: "previous_response_id", code: "previous_response_not_found");

        time.Advance(TimeSpan.FromHours(1)); // the retention service's next tick deletes it
        Assert.Equal(0, StoredRows(data));
    }

    [Fact]
    public void The_retention_flag_defaults_to_30_days_and_is_checked()
    {
        Assert.Equal(30, GatewayCommandLine.Parse([]).Options!.ResponseRetentionDays);
        Assert.Equal(7, GatewayCommandLine.Parse(["--response-retention-days", "7"]).Options!.ResponseRetentionDays);
        Assert.Equal("--response-retention-days must be from 1 to 36500 (got 0).", GatewayCommandLine.Parse(["--response-retention-days", "0"]).Error);
        Assert.Equal("--response-retention-days must be an integer (got 'month').", GatewayCommandLine.Parse(["--response-retention-days=month"]).Error);
        Assert.Contains("--response-retention-days N", GatewayCommandLine.Usage, StringComparison.Ordinal);
    }

    private static long StoredRows(string data)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(data, "context.db"), Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = new SqliteCommand("SELECT count(*) FROM responses;", connection);
        return (long)command.ExecuteScalar()!;
    }
}
