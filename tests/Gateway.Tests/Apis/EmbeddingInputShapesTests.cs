using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Apis;

/// <summary>
/// <c>/v1/embeddings</c> with token-id inputs (the served model's own ids, as LangChain's OpenAIEmbeddings sends
/// token arrays) on the real engine, through the official client where it can send them; errors name the input.
/// </summary>
public sealed class EmbeddingInputShapesTests
{
    private static readonly string[] Texts = ["Once upon a time", "The cat sat."];

    [Fact]
    public async Task Token_arrays_embed_as_the_texts_they_are_the_tokens_of()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var model = await ServedModel.LoadAsync(environment);
        var ids = Texts.Select(t => model.Tokenize(t, addSpecial: true, parseSpecial: false)).ToArray(); // as the engine tokenises an input
        var client = environment.OpenAi.GetEmbeddingClient(TestEnvironment.Stories);

        var fromText = await client.GenerateEmbeddingsAsync(Texts);
        var fromTokens = await client.GenerateEmbeddingsAsync(ids.Select(i => new ReadOnlyMemory<int>(i)));

        Assert.Equal(2, fromTokens.Value.Count);
        for (var i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(i, fromTokens.Value[i].Index);
            var expected = fromText.Value[i].ToFloats().ToArray();
            var actual = fromTokens.Value[i].ToFloats().ToArray();
            Assert.Equal(expected.Length, actual.Length);
            Assert.All(expected.Zip(actual), pair => Assert.Equal(pair.First, pair.Second, 4));
        }

        Assert.Equal(fromText.Value.Usage.InputTokenCount, fromTokens.Value.Usage.InputTokenCount);
        Assert.Equal(ids.Sum(i => i.Length), fromTokens.Value.Usage.InputTokenCount);
    }

    [Fact]
    public async Task One_token_array_is_one_input()
    {
        await using var environment = await TestEnvironment.StartAsync();
        var ids = (await ServedModel.LoadAsync(environment)).Tokenize(Texts[0], addSpecial: true, parseSpecial: false);

        using var response = await environment.Http.PostAsync("/v1/embeddings", ApiAssert.Json($$"""{"model":"stories260K","input":{{JsonSerializer.Serialize(ids)}}}"""));

        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, raw);
        using var json = JsonDocument.Parse(raw);
        Assert.Equal(1, json.RootElement.GetProperty("data").GetArrayLength());
        Assert.Equal(ids.Length, json.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Theory]
    [InlineData("[1,2,512]", "input[2]")]
    [InlineData("[1,-2]", "input[1]")]
    [InlineData("[1,2.5]", "input[1]")]
    [InlineData("[[1,2],[3,512]]", "input[1][1]")]
    [InlineData("[[1,2],[]]", "input[1]")]
    [InlineData("[[1,2],\"Once\"]", "input[1]")]
    [InlineData("[\"Once\",[1,2]]", "input[1]")]
    [InlineData("[]", "input")]
    [InlineData("[\"Once\",3]", "input[1]")]
    public async Task A_malformed_input_is_400_naming_the_element(string input, string param)
    {
        await using var environment = await TestEnvironment.StartAsync();

        using var response = await environment.Http.PostAsync("/v1/embeddings", ApiAssert.Json($$"""{"model":"stories260K","input":{{input}}}"""));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param, "invalid_value");
    }

    [Theory]
    [InlineData("[TOKENS]", "input")]
    [InlineData("[[TOKENS]]", "input[0]")]
    [InlineData("[[1],[TOKENS]]", "input[1]")]
    [InlineData("\"TEXT\"", "input")]
    [InlineData("[\"TEXT\"]", "input[0]")]
    public async Task An_input_over_the_context_is_400_naming_that_input(string input, string param)
    {
        await using var environment = await TestEnvironment.StartAsync(e => e.ContextLength = 32);
        var body = $$"""{"model":"stories260K","input":{{input}}}"""
            .Replace("TOKENS", string.Join(',', Enumerable.Repeat(5, 40)), StringComparison.Ordinal)
            .Replace("TEXT", string.Concat(Enumerable.Repeat("Once upon a time there was a cat. ", 20)), StringComparison.Ordinal);

        using var response = await environment.Http.PostAsync("/v1/embeddings", ApiAssert.Json(body));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param, "context_length_exceeded");
        Assert.Contains("32", error.GetProperty("message").GetString());
        Assert.DoesNotContain("cat", error.GetProperty("message").GetString());
    }
}
