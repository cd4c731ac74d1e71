using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Gateway.Tests.Routing;
using static InferenceMesh.Gateway.Tests.Context.ContextHttp;

namespace InferenceMesh.Gateway.Tests.Context;

/// <summary>Presets: CRUD endpoints, and the <c>preset:&lt;name&gt;</c> model alias on a real gateway, locally and in the cloud.</summary>
public sealed class PresetTests : IAsyncLifetime
{
    private const string Terse = """{"name":"terse","instructions":"Answer in one word.","model":"gpt-test","temperature":0.2,"top_p":0.5,"max_tokens":50,"metadata":{"owner":"me"}}""";
    private readonly RoutingHarness _harness = new();
    private RecordingUpstream _upstream = null!;

    private HttpClient Http => _harness.Http;

    public async Task InitializeAsync()
    {
        _upstream = await RecordingUpstream.StartAsync();
        _harness.Clouds.Add(("cloud-a", _upstream, 0.95, "sk-a"));
        await _harness.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private static HttpRequestMessage Chat(string model, string extra = "", string? privacy = null)
    {
        var request = RoutingHarness.Chat(RoutingHarness.PublicPrompt, model: model, privacy: privacy);
        request.Content = ApiAssert.Json($$"""{"model":"{{model}}","messages":[{"role":"user","content":"{{RoutingHarness.PublicPrompt}}"}]{{extra}}}""");
        return request;
    }

    [Fact]
    public async Task Presets_are_created_listed_read_replaced_and_deleted()
    {
        var created = await PostAsync(Http, "/v1/presets", Terse);
        Assert.Equal("preset", created.GetProperty("object").GetString());
        Assert.Equal("terse", created.GetProperty("id").GetString());
        Assert.Equal("Answer in one word.", created.GetProperty("instructions").GetString());
        Assert.Equal(0.2, created.GetProperty("temperature").GetDouble());
        Assert.Equal(50, created.GetProperty("max_tokens").GetInt32());
        Assert.Equal("me", created.GetProperty("metadata").GetProperty("owner").GetString());
        await ErrorAsync(Http, HttpMethod.Post, "/v1/presets", Terse, HttpStatusCode.Conflict, "name", "preset_exists");

        await PostAsync(Http, "/v1/presets", """{"name":"a-first"}""");
        var list = await GetAsync(Http, "/v1/presets");
        Assert.Equal(["a-first", "terse"], list.GetProperty("data").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        Assert.Equal("auto", list.GetProperty("data")[0].GetProperty("model").GetString());

        // A name in the body must be the path's: it was ignored, so a client "renaming" the preset changed the old one.
        await ErrorAsync(Http, HttpMethod.Post, "/v1/presets/terse", """{"name":"brief","instructions":"Be brief."}""", HttpStatusCode.BadRequest, "name", "invalid_value");
        await ErrorAsync(Http, HttpMethod.Get, "/v1/presets/brief", null, HttpStatusCode.NotFound, "name", "preset_not_found");
        Assert.Equal("Answer in one word.", (await GetAsync(Http, "/v1/presets/terse")).GetProperty("instructions").GetString());
        var replaced = await PostAsync(Http, "/v1/presets/terse", """{"name":"terse","instructions":"Be brief.","model":"auto"}""");
        Assert.Equal("Be brief.", replaced.GetProperty("instructions").GetString());
        Assert.False(replaced.TryGetProperty("temperature", out _));
        Assert.Equal("Be brief.", (await GetAsync(Http, "/v1/presets/terse")).GetProperty("instructions").GetString());

        var deleted = await SendAsync(Http, HttpMethod.Delete, "/v1/presets/terse");
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        await ErrorAsync(Http, HttpMethod.Get, "/v1/presets/terse", null, HttpStatusCode.NotFound, "name", "preset_not_found");
        await ErrorAsync(Http, HttpMethod.Post, "/v1/presets/terse", "{}", HttpStatusCode.NotFound, "name");
    }

    [Theory]
    [InlineData("""{"name":"bad name"}""", "name")]
    [InlineData("""{"name":"-x"}""", "name")]
    [InlineData("""{"instructions":"x"}""", "name")]
    [InlineData("""{"name":"x","model":"preset:y"}""", "model")]
    [InlineData("""{"name":"x","temperature":3}""", "temperature")]
    [InlineData("""{"name":"x","top_p":-1}""", "top_p")]
    [InlineData("""{"name":"x","max_tokens":0}""", "max_tokens")]
    [InlineData("""{"name":"x","temperature":"hot"}""", "temperature")]
    [InlineData("", null)]
    public async Task Invalid_presets_are_400_in_openai_shape(string json, string? param)
    {
        var error = await ErrorAsync(Http, HttpMethod.Post, "/v1/presets", json, HttpStatusCode.BadRequest);
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task A_preset_routed_to_the_cloud_sends_its_prompt_model_and_defaults_and_the_requests_own_values_win()
    {
        await PostAsync(Http, "/v1/presets", Terse);

        var (response, body) = await _harness.SendAsync(Chat("preset:terse", extra: ",\"temperature\":0.9"));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + _harness.Logs.All);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        var sent = Assert.Single(_upstream.ChatRequests).Body;
        Assert.DoesNotContain("preset:", sent, StringComparison.Ordinal);
        using var forwarded = JsonDocument.Parse(sent);
        var root = forwarded.RootElement;
        Assert.Equal("gpt-test", root.GetProperty("model").GetString());
        Assert.Equal(("system", "Answer in one word."), (root.GetProperty("messages")[0].GetProperty("role").GetString(), root.GetProperty("messages")[0].GetProperty("content").GetString()));
        Assert.Equal(RoutingHarness.PublicPrompt, root.GetProperty("messages")[1].GetProperty("content").GetString());
        Assert.Equal(0.9, root.GetProperty("temperature").GetDouble()); // the request's own value
        Assert.Equal(0.5, root.GetProperty("top_p").GetDouble());
        Assert.Equal(50, root.GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public async Task A_preset_answered_locally_gets_its_prompt_and_defaults_and_its_prompt_is_not_stored_as_history()
    {
        await PostAsync(Http, "/v1/presets", """{"name":"local-brief","instructions":"Answer briefly.","model":"auto","temperature":0.25,"max_tokens":7}""");
        var id = await CreateConversationAsync(Http);

        var (response, body) = await _harness.SendAsync(Chat("preset:local-brief", extra: $",\"conversation\":\"{id}\"", privacy: "confidential"));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        var model = _harness.Engine.Model;
        Assert.Equal(("system", "Answer briefly."), (model.LastMessages![0].Role, model.LastMessages[0].Content));
        Assert.Equal(0.25f, model.LastRequest!.Sampling.Temperature);
        Assert.Equal(7, model.LastRequest.MaxTokens);
        Assert.Equal(["user", "assistant"], (await ItemsAsync(Http, id)).Select(i => i.Role));
        Assert.Empty(_upstream.Requests);
    }

    [Fact]
    public async Task An_unknown_preset_is_404_and_nothing_is_sent()
    {
        var (response, _) = await _harness.SendAsync(Chat("preset:nope"));
        await ApiAssert.ErrorAsync(response, HttpStatusCode.NotFound, "model", "model_not_found");
        Assert.Empty(_upstream.Requests);
    }
}
