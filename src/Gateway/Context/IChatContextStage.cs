using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Context;

/// <summary>
/// A step of the context store that runs on every chat request after validation and before classification and
/// routing: it may add messages (a conversation's history, retrieved passages), raise the privacy floor (a
/// confidential conversation or vector store) and watch for the answer. Because it runs before classification,
/// whatever it adds is classified with the rest of the prompt and routed under the same policy.
/// Stages run in registration order; one that has nothing to do (no extension field in the request) returns at once.
/// </summary>
internal interface IChatContextStage
{
    /// <summary>
    /// Whether the stage may have something to do for <paramref name="request"/> (its extension field or model alias is
    /// there). When no stage applies, no frame is built and the client's body is forwarded as sent. Must not look at
    /// anything but the request: it decides nothing, <see cref="PrepareAsync"/> does.
    /// </summary>
    bool AppliesTo(ChatCompletionRequest request) => true;

    /// <returns>Null to go on; otherwise the error to answer with (nothing is sent anywhere).</returns>
    ValueTask<ApiError?> PrepareAsync(ChatContextFrame frame, CancellationToken cancellationToken);
}
