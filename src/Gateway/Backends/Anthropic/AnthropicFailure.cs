using InferenceMesh.Gateway.Errors;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>Why an Anthropic call failed; the failover layer decides on this without catching.</summary>
public enum AnthropicFailureKind
{
    /// <summary>The OpenAI request cannot be translated (tool messages, images…): a 400 found before anything is sent.</summary>
    UnsupportedRequest,

    /// <summary>Upstream 400/413/422 (<c>invalid_request_error</c>, <c>request_too_large</c>): the request itself is at fault.</summary>
    InvalidRequest,

    /// <summary>Upstream 401/403: the backend's key is wrong or lacks permission (a configuration problem).</summary>
    Authentication,

    /// <summary>Upstream 404 (<c>not_found_error</c>), e.g. an unknown model name.</summary>
    NotFound,

    /// <summary>Upstream 429 (<c>rate_limit_error</c>).</summary>
    RateLimited,

    /// <summary>Upstream 529 or an <c>overloaded_error</c> event.</summary>
    Overloaded,

    /// <summary>Upstream 5xx or an <c>api_error</c> event.</summary>
    ServerError,

    /// <summary>Connection refused, DNS or TLS failure, connection reset before the response.</summary>
    Unreachable,

    /// <summary>No response headers in time, or a stream silent for longer than the idle timeout.</summary>
    Timeout,

    /// <summary>A body or event that is not the expected JSON, a redirect, or an unexpected status.</summary>
    MalformedResponse,

    /// <summary>The stream ended (or the connection broke) before <c>message_stop</c>.</summary>
    StreamCut,

    /// <summary>An <c>error</c> event of another type inside a 200 stream.</summary>
    StreamError,
}

/// <summary>
/// An expected failure of the Anthropic backend: what to tell the client (<see cref="Error"/>, OpenAI shape,
/// never prompt text) and whether another attempt may succeed (<see cref="Retryable"/>: 429, 529, 5xx,
/// transport failures, timeouts, broken streams).
/// </summary>
/// <param name="UpstreamStatus">The upstream HTTP status, when there was one.</param>
/// <param name="Exception">The original exception for transport failures (log it; never shown to clients).</param>
public sealed record AnthropicFailure(
    AnthropicFailureKind Kind,
    ApiError Error,
    bool Retryable,
    int? UpstreamStatus = null,
    Exception? Exception = null);

/// <summary>A value or an <see cref="AnthropicFailure"/>.</summary>
public readonly record struct AnthropicResult<T>(T? Value, AnthropicFailure? Failure)
{
    public bool IsSuccess => Failure is null;

    public static implicit operator AnthropicResult<T>(T value) => new(value, null);

    public static implicit operator AnthropicResult<T>(AnthropicFailure failure) => new(default, failure);
}
