using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Apis;

/// <summary>Needs the real engine and catalog.</summary>
public sealed class ModelsAndEmbeddingsTests
{
    [Fact]
    public async Task Official_client_lists_stories260K()
    {
        await using var environment = await TestEnvironment.StartAsync();

        var models = await environment.OpenAi.GetOpenAIModelClient().GetModelsAsync();

        Assert.Contains(models.Value, m => m.Id == TestEnvironment.Stories && m.OwnedBy == "inference-mesh");
        var one = await environment.OpenAi.GetOpenAIModelClient().GetModelAsync(TestEnvironment.Stories);
        Assert.Equal(TestEnvironment.Stories, one.Value.Id);
    }

    [Fact]
    public async Task Embeddings_are_normalised_in_float_and_base64()
    {
        await using var environment = await TestEnvironment.StartAsync();

        // The official client asks for base64.
        var embeddings = await environment.OpenAi.GetEmbeddingClient(TestEnvironment.Stories).GenerateEmbeddingsAsync(["Once upon a time", "The cat sat."]);
        Assert.Equal(2, embeddings.Value.Count);
        var fromBase64 = embeddings.Value[0].ToFloats().ToArray();
        Assert.Equal(64, fromBase64.Length);
        Assert.Equal(1.0, Math.Sqrt(fromBase64.Sum(v => (double)v * v)), 3);

        using var response = await environment.Http.PostAsync("/v1/embeddings", ApiAssert.Json("""{"model":"stories260K","input":"Once upon a time"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var floats = json.RootElement.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(fromBase64.Length, floats.Length);
        Assert.All(fromBase64.Zip(floats), pair => Assert.Equal(pair.First, pair.Second, 4));
        Assert.True(json.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 0);
    }

    [Theory]
    [InlineData("""{"model":"stories260K","input":""}""", "input")]
    [InlineData("""{"model":"stories260K","input":["Once upon a time",""]}""", "input[1]")]
    public async Task An_empty_embedding_input_is_400_naming_it(string body, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/embeddings", ApiAssert.Json(body));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param: param, code: "invalid_value");
    }
}
