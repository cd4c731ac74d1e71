using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Routing;

namespace InferenceMesh.Gateway.Tests.Backends;

/// <summary>
/// What an OpenAI-compatible upstream receives: the client's own bytes when the model stays, only the model's value
/// changed when the plan names another model, and never an extension field of ours.
/// </summary>
public sealed class ForwardedBodyTests
{
    private const string Spaced =
        """{ "model" : "auto",  "messages":[{"role":"user","content":"What is the capital of France?"}], "x_vendor": {"keep": [1, 2.50, "\u00e9"]} }""";

    private static HttpRequestMessage Raw(string json) =>
        new(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    [Fact]
    public async Task Same_model_sends_the_clients_bytes_unchanged()
    {
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _ = harness;
        await using var __ = upstream;

        var (response, body) = await harness.SendAsync(Raw(Spaced));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.Equal(Spaced, Assert.Single(upstream.ChatRequests).Body);
    }

    [Fact]
    public async Task An_aliased_model_changes_only_the_models_value()
    {
        var policies = RoutingHarness.DefaultPolicyWithAliases("{ house-model: { cloud-a: upstream-model-1 } }");
        var (harness, upstream) = await RoutingTests.StartAsync(h => h.PoliciesDirectory = policies);
        await using var _ = harness;
        await using var __ = upstream;

        var (response, body) = await harness.SendAsync(Raw(Spaced.Replace("\"auto\"", "\"house-model\"", StringComparison.Ordinal)));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        Assert.Equal(Spaced.Replace("\"auto\"", "\"upstream-model-1\"", StringComparison.Ordinal), Assert.Single(upstream.ChatRequests).Body);
    }

    [Fact]
    public async Task Our_extension_fields_are_removed_and_the_rest_is_kept()
    {
        var (harness, upstream) = await RoutingTests.StartAsync();
        await using var _ = harness;
        await using var __ = upstream;

        var (response, body) = await harness.SendAsync(Raw(Spaced.Replace("\"x_vendor\"", "\"store\": false, \"x_vendor\"", StringComparison.Ordinal)));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var sent = JsonDocument.Parse(Assert.Single(upstream.ChatRequests).Body);
        Assert.False(sent.RootElement.TryGetProperty("store", out var store), store.ToString());
        Assert.Equal("auto", sent.RootElement.GetProperty("model").GetString());
        Assert.Equal(2.50, sent.RootElement.GetProperty("x_vendor").GetProperty("keep")[1].GetDouble());
    }
}
