using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Gateway.Tests.Routing;
using InferenceMesh.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Gateway.Tests.Rag;

/// <summary>
/// Retrieval in chat on the real gateway (stories260K) with a recording OpenAI-compatible upstream that is the best
/// backend for public prompts: a confidential store keeps even a harmless prompt local — nothing reaches the upstream,
/// and neither the passages nor the prompt reach the logs — while a public store's passages may go to the cloud.
/// Either way the answer names its sources in X-InferenceMesh-Citations.
/// </summary>
public class RetrievalPrivacyTests : IAsyncLifetime
{
    /// <summary>A phrase that appears only in the document: if it shows up upstream or in a log line, a passage leaked.</summary>
    private const string Marker = "largest city of France";

    /// <summary>
    /// Classified public together with the prompt (checked by the public-store test): so in the confidential-store
    /// test it is the store's privacy, not the classifier, that keeps the request local.
    /// </summary>
    private const string Document = "Paris is the capital and " + Marker + ".";

    private readonly CapturingLoggerProvider _logs = new();
    private readonly string _keyVariable = $"IM_TEST_KEY_{Guid.NewGuid():N}";
    private LoopbackOpenAiUpstream _upstream = null!;
    private TestEnvironment _gateway = null!;

    public Task InitializeAsync() => StartAsync(contextLength: null);

    private async Task StartAsync(int? contextLength)
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
            await _upstream.DisposeAsync();
        }

        _upstream = await LoopbackOpenAiUpstream.StartAsync();
        Environment.SetEnvironmentVariable(_keyVariable, "sk-a");
        var config = Path.Combine(TestPaths.NewTempDir("im-rag-routing"), "gateway.yaml");
        await File.WriteAllTextAsync(config, $"""
            backends:
              - name: cloud-a
                type: openai
                baseUrl: {_upstream.BaseUrl}
                apiKeyEnv: {_keyVariable}
                sovereignty: 0.2
                quality: 0.95
                models: ["*"]
            """);
        _gateway = await TestEnvironment.StartAsync(env =>
        {
            env.ContextLength = contextLength;
            env.ExtraArgs.AddRange(["--config", config, "--policies", Path.Combine(TestPaths.RepoRoot, "policies"), .. IndexArgs]);
            env.ConfigureBuilder = builder =>
            {
                builder.Logging.AddProvider(_logs);
                builder.Logging.SetMinimumLevel(LogLevel.Trace);
                builder.Services.Configure<LoggerFilterOptions>(o => o.Rules.Clear()); // every line, for the proof
            };
        });
    }

    /// <summary>The flags that select the RAG index; none: the default sqlite-vec.</summary>
    protected virtual IReadOnlyList<string> IndexArgs => [];

    public virtual async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
        Environment.SetEnvironmentVariable(_keyVariable, null);
    }

    private async Task<string> StoreAsync(string? privacy)
    {
        var file = await RagHttp.UploadAsync(_gateway.Http, "town.txt", Encoding.UTF8.GetBytes(Document));
        var store = await RagHttp.CreateStoreAndWaitAsync(_gateway.Http, privacy is null ? "" : $$""","privacy":"{{privacy}}" """, file.GetProperty("id").GetString()!);
        Assert.Equal(1, store.GetProperty("file_counts").GetProperty("completed").GetInt32());
        return store.GetProperty("id").GetString()!;
    }

    private static HttpRequestMessage Chat(string storeId, bool stream = false, string? privacyHeader = null)
    {
        var json = $$$"""
            {"model":"auto","max_tokens":4,"stream":{{{(stream ? "true" : "false")}}},
             "messages":[{"role":"user","content":"{{{RoutingHarness.PublicPrompt}}}"}],
             "retrieval":{"vector_store_ids":["{{{storeId}}}"],"max_num_results":2}}
            """;
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ApiAssert.Json(json) };
        if (privacyHeader is not null) request.Headers.Add("X-InferenceMesh-Privacy", privacyHeader);
        return request;
    }

    private async Task<(HttpResponseMessage Response, string Body)> SendAsync(HttpRequestMessage request)
    {
        var response = await _gateway.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return (response, await response.Content.ReadAsStringAsync());
    }

    private static string Citations(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-InferenceMesh-Citations", out var values) ? values.Single() : "";

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, "public")]
    public async Task A_confidential_store_keeps_a_harmless_prompt_local_and_out_of_upstream_and_logs(bool stream, string? privacyHeader)
    {
        var storeId = await StoreAsync(privacy: null); // confidential by default

        var (response, body) = await SendAsync(Chat(storeId, stream, privacyHeader));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Equal("confidential", response.Headers.GetValues("X-InferenceMesh-Privacy").Single());
        Assert.Matches("^file-[0-9a-f]{24};chunk=0$", Citations(response));
        Assert.Empty(_upstream.Requests);
        Assert.DoesNotContain(Marker, _logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain(RoutingHarness.PublicPrompt, _logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_the_local_model_cannot_serve_a_confidential_retrieval_it_fails_closed_and_sends_nothing()
    {
        await StartAsync(contextLength: 32); // the passages and the prompt do not fit a 32-token slot
        var storeId = await StoreAsync(privacy: null);

        var (response, body) = await SendAsync(Chat(storeId));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Contains("context", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Marker, body, StringComparison.Ordinal);
        Assert.Empty(_upstream.Requests);
        Assert.DoesNotContain(Marker, _logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_retrieval_the_same_prompt_goes_to_the_cloud()
    {
        var (response, body) = await SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response)); // so the store's floor is what keeps the test above local
        Assert.Equal("", Citations(response));
    }

    [Fact]
    public async Task A_public_stores_passages_go_to_the_cloud_with_citations_and_without_our_field()
    {
        var storeId = await StoreAsync("public");

        var (response, body) = await SendAsync(Chat(storeId));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + _logs.All);
        Assert.Equal("public", response.Headers.GetValues("X-InferenceMesh-Privacy").Single());
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.Matches("^file-[0-9a-f]{24};chunk=0$", Citations(response));
        var sent = Assert.Single(_upstream.ChatRequests).Body;
        Assert.Contains(Marker, sent, StringComparison.Ordinal);
        Assert.DoesNotContain("\"retrieval\"", sent, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(sent);
        var messages = document.RootElement.GetProperty("messages");
        Assert.Equal("system", messages[0].GetProperty("role").GetString());
        Assert.Equal(RoutingHarness.PublicPrompt, messages[1].GetProperty("content").GetString());
    }

    [Fact]
    public async Task An_unknown_store_is_a_404_and_nothing_is_sent_anywhere()
    {
        var (response, body) = await SendAsync(Chat("vs_000000000000000000000000"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("retrieval.vector_store_ids", body, StringComparison.Ordinal);
        Assert.Empty(_upstream.Requests);
    }
}

/// <summary>The same privacy proofs with the PostgreSQL + pgvector index: where chunks live changes nothing about where requests go.</summary>
public sealed class PgVectorRetrievalPrivacyTests : RetrievalPrivacyTests
{
    private readonly PgVectorGatewayIndex _index = new();

    protected override IReadOnlyList<string> IndexArgs => _index.Args;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _index.Dispose();
    }
}
