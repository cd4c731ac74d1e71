using System.Text.Json;
using InferenceMesh.Gateway.Mesh;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Tests.Mesh;

/// <summary>Which peer answers the verifier takes: greedy ones only; a sampled answer has no single right text.</summary>
public sealed class PeerVerifierTests
{
    [Theory]
    [InlineData("""{"temperature":0}""", true)]
    [InlineData("""{"temperature":0.0,"top_p":0.5}""", true)]
    [InlineData("""{"temperature":0.7}""", false)]
    [InlineData("""{"temperature":0.7,"seed":1}""", false)]
    [InlineData("""{}""", false)] // OpenAI's default temperature is 1
    public void Only_greedy_requests_are_verified(string body, bool verified)
    {
        var request = JsonSerializer.Deserialize(body, OpenAiJsonContext.Default.ChatCompletionRequest)!;

        Assert.Equal(verified, PeerVerifier.IsGreedy(request));
    }
}
