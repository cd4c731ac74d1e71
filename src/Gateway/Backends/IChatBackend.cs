using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Router.Configuration;

namespace InferenceMesh.Gateway.Backends;

/// <summary>
/// A remote protocol (OpenAI-compatible, Anthropic…) that can answer one OpenAI chat-completions request.
/// One instance per protocol, shared by all requests: implementations are thread-safe and stateless per call.
/// </summary>
/// <remarks>
/// The contract that makes failover invisible to the client: <see cref="SendAsync"/> must NOT write to
/// <see cref="BackendCall.Http"/>'s response until the upstream's answer was checked (status, and for a
/// stream its first event). A failure found before that returns <see cref="BackendAttempt.Failed"/> with
/// the response untouched, and the executor tries the next backend of the plan. The executor hands every
/// attempt a response that has not started, with status 200 and only the gateway's own headers (which the
/// backend keeps, adding <c>X-InferenceMesh-Backend</c> with its name before the body starts). Once it starts the
/// response it owns it to the end (<see cref="BackendAttempt.Committed"/>); a stream that breaks after
/// that is finished by <see cref="BackendCall.Continuation"/> (see <see cref="Streaming.OpenAiSseRelay"/>, which
/// does the parsing, framing and switching for any OpenAI-shaped event stream).
/// Retries, timeouts to first byte and the circuit breaker are NOT the backend's job: the executor wraps
/// every call in the backend's resilience pipeline.
/// </remarks>
public interface IChatBackend
{
    /// <summary>The config <c>type</c> this implements.</summary>
    BackendKind Kind { get; }

    /// <param name="call">The request, the backend, the client's context.</param>
    /// <param name="cancellationToken">Cancelled when the client leaves or the first-byte timeout fires (only until <see cref="BackendCall.OnFirstByte"/> is called).</param>
    Task<BackendAttempt> SendAsync(BackendCall call, CancellationToken cancellationToken);

    /// <summary>
    /// A cheap call that carries no prompt (e.g. listing models), sent when an open circuit's break is over:
    /// success closes the circuit again. Same failure values as <see cref="SendAsync"/>.
    /// </summary>
    Task<BackendAttempt> ProbeAsync(BackendConfig backend, string? apiKey, CancellationToken cancellationToken);
}

/// <summary>One attempt at one backend. Immutable; a new one per attempt.</summary>
public sealed record BackendCall
{
    /// <summary>The client's request. Its response may be written only once the upstream answer was checked.</summary>
    public required HttpContext Http { get; init; }

    /// <summary>The backend (address, key source, metadata) as config and policy define it.</summary>
    public required BackendConfig Backend { get; init; }

    /// <summary>The model to ask the upstream for (the plan step's model: alias resolved, "auto" replaced).</summary>
    public required string UpstreamModel { get; init; }

    /// <summary>The client's body (fields the gateway does not know are kept); <see cref="ChatRequestBody.WithModel"/> gives the bytes to send.</summary>
    public required ChatRequestBody Body { get; init; }

    /// <summary>The same body, typed (already validated).</summary>
    public required ChatCompletionRequest Request { get; init; }

    /// <summary>Whether the client asked for an event stream.</summary>
    public bool Stream { get; init; }

    /// <summary>The privacy level the request was routed at (public, internal…); a mesh peer receives it with the request.</summary>
    public string? Privacy { get; init; }

    /// <summary>The backend's own API key (never the client's); null when the backend names none.</summary>
    public string? ApiKey { get; init; }

    /// <summary>What finishes a stream that breaks after the first byte was sent to the client.</summary>
    public required IStreamContinuation Continuation { get; init; }

    /// <summary>
    /// Collects the answer for the context stages' observers, or null (the usual case: nothing to collect). A backend
    /// completes it only after the whole answer was written to the client; a broken stream is completed by the continuation.
    /// </summary>
    public Context.ChatAnswerCapture? Capture { get; init; }

    /// <summary>Call when the upstream's first byte (stream: first valid event; otherwise the response headers) arrived: stops the first-byte timeout.</summary>
    public required Action OnFirstByte { get; init; }
}

/// <summary>How one attempt ended. A value, not an exception (like YARP's ForwarderError).</summary>
/// <param name="Error"><see cref="BackendError.None"/> on success.</param>
/// <param name="Committed">The response to the client was started by this backend: no other backend may answer.</param>
/// <param name="ClientError">For a failure the client must see as is (e.g. the upstream rejected the request as invalid): the error in our shape.</param>
/// <param name="UpstreamStatus">The upstream's HTTP status, when there was one.</param>
/// <param name="TimeToFirstByte">Measured with the injected TimeProvider; null when no byte came.</param>
/// <param name="Exception">The original exception of a transport failure, for the log (never shown to clients).</param>
/// <param name="RetryAfter">How long the upstream asked to wait (its <c>Retry-After</c>, e.g. with a 429), when it said.</param>
public readonly record struct BackendAttempt(
    BackendError Error,
    bool Committed,
    ApiError? ClientError = null,
    int? UpstreamStatus = null,
    TimeSpan? TimeToFirstByte = null,
    Exception? Exception = null,
    TimeSpan? RetryAfter = null)
{
    public bool Succeeded => Error == BackendError.None;

    public static BackendAttempt Failed(BackendError error, int? upstreamStatus = null, Exception? exception = null, ApiError? clientError = null) =>
        new(error, Committed: false, clientError, upstreamStatus, null, exception);
}

/// <summary>Finishes an answer whose upstream stream broke after the client got part of it.</summary>
public interface IStreamContinuation
{
    /// <summary>
    /// Complete SSE frames (<c>data: …\n\n</c>) that end the answer, the last one <c>data: [DONE]\n\n</c>:
    /// the local model's continuation when policy allows it, else a clean error event.
    /// </summary>
    IAsyncEnumerable<ReadOnlyMemory<byte>> ContinueAsync(StreamBreak streamBreak, CancellationToken cancellationToken);
}

/// <summary>Where a broken stream stood. <see cref="PartialText"/> is the assistant text already sent: never log it.</summary>
public sealed record StreamBreak(string Backend, BackendError Error, string Id, long Created, string Model, string PartialText, bool FinishSeen);
