using System.Net;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// <c>X-InferenceMesh-Backend</c> on every response of the generation endpoints. <c>/v1/completions</c> and
/// <c>/v1/embeddings</c> are served by the local engine only: "local" once the request reaches it (its errors
/// included), "none" when the request is rejected before any backend, like chat.
/// </summary>
public sealed class BackendHeaderTests : IAsyncLifetime
{
    private readonly RoutingHarness _harness = new();

    public Task InitializeAsync() => _harness.StartAsync();

    public Task DisposeAsync() => _harness.DisposeAsync().AsTask();

    [Theory]
    [InlineData("/v1/completions", $$"""{"model":"{{FakeEngine.ModelId}}","prompt":"Once upon a time"}""")]
    [InlineData("/v1/completions", $$"""{"model":"{{FakeEngine.ModelId}}","prompt":"Once upon a time","stream":true}""")]
    [InlineData("/v1/embeddings", $$"""{"model":"{{FakeEngine.ModelId}}","input":["Once upon a time","The cat sat."]}""")]
    public async Task Local_answers_name_the_local_backend(string path, string json)
    {
        var (response, body) = await PostAsync(path, json);

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
    }

    [Theory]
    [InlineData("/v1/completions", false)]
    [InlineData("/v1/completions", true)]
    [InlineData("/v1/embeddings", false)]
    public async Task Local_engine_errors_name_the_local_backend(string path, bool stream)
    {
        _harness.Engine.Model.OnStart = _ => EngineResult<IGeneration>.Fail(new EngineFailure(EngineError.Overloaded, "busy"));
        _harness.Engine.Model.OnEmbed = _ => EngineResult<EmbeddingResult>.Fail(new EngineFailure(EngineError.Overloaded, "busy"));
        var json = path == "/v1/embeddings"
            ? $$"""{"model":"{{FakeEngine.ModelId}}","input":"hi"}"""
            : $$"""{"model":"{{FakeEngine.ModelId}}","prompt":"hi","stream":{{(stream ? "true" : "false")}}}""";

        var (response, _) = await PostAsync(path, json);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.ServiceUnavailable, code: "overloaded");
        Assert.Equal("local", RoutingHarness.BackendOf(response));
    }

    [Theory]
    [InlineData("/v1/completions")]
    [InlineData("/v1/embeddings")]
    public async Task Unknown_model_is_the_local_backends_404(string path)
    {
        var (response, _) = await PostAsync(path, """{"model":"no-such-model","prompt":"hi","input":"hi"}""");

        await ApiAssert.ErrorAsync(response, HttpStatusCode.NotFound, code: "model_not_found");
        Assert.Equal("local", RoutingHarness.BackendOf(response));
    }

    [Theory]
    [InlineData("/v1/completions", "{ not json")]
    [InlineData("/v1/completions", $$"""{"model":"{{FakeEngine.ModelId}}","prompt":"hi","temperature":7}""")]
    [InlineData("/v1/embeddings", "{ not json")]
    [InlineData("/v1/embeddings", $$"""{"model":"{{FakeEngine.ModelId}}","input":"hi","encoding_format":"hex"}""")]
    [InlineData("/v1/chat/completions", "{ not json")]
    public async Task Requests_rejected_before_any_backend_say_none(string path, string json)
    {
        var (response, body) = await PostAsync(path, json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("none", RoutingHarness.BackendOf(response));
        Assert.Null(_harness.Engine.Model.LastRequest);
        Assert.Contains("\"error\"", body);
    }

    private async Task<(HttpResponseMessage Response, string Body)> PostAsync(string path, string json) =>
        await _harness.SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = ApiAssert.Json(json) });
}
