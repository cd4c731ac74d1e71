using System.Text.Json.Nodes;
using InferenceMesh.Classifier;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Gateway.Routing;

/// <summary>One validated chat request: the raw body (for forwarding), its typed form, the messages and settings. Holds prompt text: never log it.</summary>
internal sealed class ChatExecution
{
    private JsonObject? _body;

    public required HttpContext Http { get; init; }

    public required byte[] RawBody { get; init; }

    public required ChatCompletionRequest Request { get; init; }

    public required IReadOnlyList<ChatMessage> Messages { get; init; }

    public required GenerationSettings Settings { get; init; }

    /// <summary>The body as a JSON object, parsed on first use (only when a remote backend is tried).</summary>
    public JsonObject Body => _body ??= JsonNode.Parse(RawBody)!.AsObject();
}

/// <summary>A chat request after classification and routing.</summary>
internal sealed record RoutedChat(ChatExecution Chat, Classification? Classification, RoutePlan Plan);
