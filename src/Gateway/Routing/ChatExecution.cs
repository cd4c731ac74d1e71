using InferenceMesh.Classifier;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Context;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Gateway.Routing;

/// <summary>One validated chat request: the raw body (for forwarding), its typed form, the messages and settings. Holds prompt text: never log it.</summary>
internal sealed class ChatExecution
{
    private ChatRequestBody? _body;

    public required HttpContext Http { get; init; }

    public required byte[] RawBody { get; init; }

    public required ChatCompletionRequest Request { get; init; }

    public required IReadOnlyList<ChatMessage> Messages { get; init; }

    public required GenerationSettings Settings { get; init; }

    /// <summary>The context stages' view of the request (null when no stage is registered): its answer observers run after the response.</summary>
    public ChatContextFrame? Context { get; init; }

    /// <summary>
    /// Whether the local step may drop the oldest messages until the prompt fits the model's context (a Responses request with
    /// <c>truncation: "auto"</c>, <see cref="Responses.InputTruncation"/>); otherwise a prompt too long is the 400 naming the limit.
    /// </summary>
    public bool DropOldestToFit { get; init; }

    /// <summary>Collects the answer for the context stages' observers; null (nothing captured) when no stage observes the answer.</summary>
    public ChatAnswerCapture? Capture { get; init; }

    /// <summary>The body a remote backend is sent: the client's bytes, or the stages' edited body when they changed it.</summary>
    public ChatRequestBody Body => _body ??= Context is { BodyChanged: true } context ? ChatRequestBody.FromJson(context.Body) : ChatRequestBody.FromRaw(RawBody);
}

/// <summary>A chat request after classification and routing.</summary>
internal sealed record RoutedChat(ChatExecution Chat, Classification? Classification, RoutePlan Plan);
