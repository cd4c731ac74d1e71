using System.Text;
using InferenceMesh.Gateway.Backends.OpenAi;

namespace InferenceMesh.Gateway.Tests.Backends;

/// <summary>The one-pass check of a non-streamed upstream answer: anything but a real chat completion is a failure.</summary>
public sealed class ChatCompletionShapeTests
{
    [Theory]
    [InlineData("""{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{}}""")]
    [InlineData(""" {"choices":[{}]} """)]
    [InlineData("""{"x":{"error":1},"choices":[1,2]}""")]
    public void A_chat_completion_passes(string body) =>
        Assert.True(OpenAiForwardTransformer.HasChatCompletionShape(Encoding.UTF8.GetBytes(body)));

    [Theory]
    [InlineData("""{"choices":[]}""")]
    [InlineData("""{"choices":{}}""")]
    [InlineData("""{"choices":null}""")]
    [InlineData("""{"id":"x"}""")]
    [InlineData("""{"error":{"message":"bad"},"choices":[{}]}""")]
    [InlineData("""{"choices":[{}],"error":null}""")]
    [InlineData("""[{"choices":[{}]}]""")]
    [InlineData("""{"choices":[{}]""")]
    [InlineData("""{"choices":[{}]} trailing""")]
    [InlineData("""{"choices":[{}]}{"choices":[{}]}""")]
    [InlineData("""{"choices":[{"a":}]}""")]
    [InlineData("null")]
    [InlineData("")]
    public void Anything_else_fails(string body) =>
        Assert.False(OpenAiForwardTransformer.HasChatCompletionShape(Encoding.UTF8.GetBytes(body)));
}
