using System.Globalization;
using InferenceMesh.Gateway.Errors;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// Maps Anthropic errors (HTTP statuses, error bodies, error events) and transport failures to
/// <see cref="AnthropicFailure"/> values with an OpenAI-shaped <see cref="ApiError"/>. The one place to
/// change what a client sees when the Anthropic backend fails.
/// </summary>
public static class AnthropicErrorMapping
{
    /// <summary>Anthropic's non-standard "overloaded" status.</summary>
    public const int StatusOverloaded = 529;

    /// <summary>Upstream messages are shown to clients (they explain e.g. a too-long prompt) but capped.</summary>
    private const int MaxUpstreamMessageChars = 500;

    /// <summary>A non-2xx response, with its parsed error body when there was one.</summary>
    public static AnthropicFailure FromStatus(int status, AnthropicErrorDetail? detail, int? retryAfterSeconds = null)
    {
        var upstream = UpstreamMessage(detail);
        return status switch
        {
            400 or 422 => new(AnthropicFailureKind.InvalidRequest,
                new ApiError(400, $"The Anthropic backend rejected the request.{upstream}", ApiError.InvalidRequest, null, "upstream_invalid_request"),
                Retryable: false, status),
            413 => new(AnthropicFailureKind.InvalidRequest,
                new ApiError(413, $"The request is too large for the Anthropic backend.{upstream}", ApiError.InvalidRequest, null, "request_too_large"),
                Retryable: false, status),
            401 or 403 => new(AnthropicFailureKind.Authentication,
                // The gateway's key, not the client's: a 502, and the upstream text (about keys) is not forwarded.
                new ApiError(502, "The Anthropic backend rejected the gateway's credentials for this backend.", ApiError.ServerError, null, "upstream_authentication_failed"),
                Retryable: false, status),
            404 => new(AnthropicFailureKind.NotFound,
                new ApiError(404, $"The Anthropic backend does not know the requested model or resource.{upstream}", ApiError.InvalidRequest, "model", "model_not_found"),
                Retryable: false, status),
            408 => Timeout(null) with { UpstreamStatus = status },
            429 => new(AnthropicFailureKind.RateLimited,
                new ApiError(429, "The Anthropic backend's rate limit was reached. Retry later.", "requests", null, "rate_limit_exceeded", retryAfterSeconds),
                Retryable: true, status),
            StatusOverloaded => new(AnthropicFailureKind.Overloaded,
                new ApiError(503, "The Anthropic backend is overloaded. Retry later.", ApiError.ServerError, null, "upstream_overloaded", retryAfterSeconds),
                Retryable: true, status),
            >= 500 and <= 599 => new(AnthropicFailureKind.ServerError,
                new ApiError(502, "The Anthropic backend had an error while processing the request.", ApiError.ServerError, null, "upstream_error", retryAfterSeconds),
                Retryable: true, status),
            _ => new(AnthropicFailureKind.MalformedResponse,
                new ApiError(502, $"The Anthropic backend answered with unexpected HTTP status {status.ToString(CultureInfo.InvariantCulture)}.", ApiError.ServerError, null, "upstream_unexpected_status"),
                Retryable: false, status),
        };
    }

    /// <summary>An <c>error</c> event inside a 200 stream (e.g. <c>overloaded_error</c>).</summary>
    public static AnthropicFailure FromErrorEvent(AnthropicErrorDetail? detail)
    {
        if (StatusOfType(detail?.Type) is { } status)
        {
            return FromStatus(status, detail);
        }

        return new(AnthropicFailureKind.StreamError,
            new ApiError(502, "The Anthropic backend reported an error during the stream.", ApiError.ServerError, null, "upstream_error"),
            Retryable: true, 200);
    }

    /// <summary>Anthropic's documented error types and their HTTP statuses.</summary>
    public static int? StatusOfType(string? type) => type switch
    {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "overloaded_error" => StatusOverloaded,
        _ => null,
    };

    public static AnthropicFailure Unreachable(Exception exception) => new(AnthropicFailureKind.Unreachable,
        new ApiError(502, "The Anthropic backend could not be reached.", ApiError.ServerError, null, "upstream_unreachable"),
        Retryable: true, Exception: exception);

    public static AnthropicFailure Timeout(Exception? exception) => new(AnthropicFailureKind.Timeout,
        new ApiError(504, "The Anthropic backend did not answer in time.", ApiError.ServerError, null, "upstream_timeout"),
        Retryable: true, Exception: exception);

    public static AnthropicFailure Malformed(string what, Exception? exception = null) => new(AnthropicFailureKind.MalformedResponse,
        new ApiError(502, $"The Anthropic backend sent a malformed response: {what}.", ApiError.ServerError, null, "upstream_malformed_response"),
        Retryable: true, Exception: exception);

    public static AnthropicFailure StreamCut(Exception? exception = null) => new(AnthropicFailureKind.StreamCut,
        new ApiError(502, "The Anthropic backend's stream ended before the message was complete.", ApiError.ServerError, null, "upstream_stream_cut"),
        Retryable: true, Exception: exception);

    public static AnthropicFailure Redirect(int status) => new(AnthropicFailureKind.MalformedResponse,
        new ApiError(502, "The Anthropic backend answered with a redirect, which the gateway does not follow (check the backend's baseUrl).", ApiError.ServerError, null, "upstream_redirect"),
        Retryable: false, status);

    private static string UpstreamMessage(AnthropicErrorDetail? detail) =>
        detail?.Message is { Length: > 0 } message
            ? " Upstream said: " + (message.Length > MaxUpstreamMessageChars ? message[..MaxUpstreamMessageChars] + "…" : message)
            : string.Empty;
}
