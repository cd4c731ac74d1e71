using System.Text.Json.Nodes;
using InferenceMesh.Classifier;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Context;
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

    /// <summary>The context stages' view of the request (null when no stage is registered): its answer observers run after the response.</summary>
    public ChatContextFrame? Context { get; init; }

    /// <summary>Collects the answer for the context stages' observers; null (nothing captured) when no stage observes the answer.</summary>
    public ChatAnswerCapture? Capture { get; init; }

    /// <summary>The body as a JSON object, parsed on first use (only when a remote backend is tried); the stages' edited body when they changed it.</summary>
    public JsonObject Body => _body ??= Context is { BodyChanged: true } context ? context.Body : JsonNode.Parse(RawBody)!.AsObject();
}

/// <summary>A chat request after classification and routing.</summary>
internal sealed record RoutedChat(ChatExecution Chat, Classification? Classification, RoutePlan Plan);
