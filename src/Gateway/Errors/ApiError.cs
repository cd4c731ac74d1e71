using System.Globalization;
using System.Text.Json;
using InferenceMesh.Gateway.OpenAi;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InferenceMesh.Gateway.Errors;

/// <summary>
/// An error response in OpenAI's shape, as a typed result. Messages are written for clients and never
/// contain prompt or completion text.
/// </summary>
public sealed record ApiError(int StatusCode, string Message, string Type, string? Param = null, string? Code = null, int? RetryAfterSeconds = null)
    : IResult, IStatusCodeHttpResult, IContentTypeHttpResult
{
    public const string InvalidRequest = "invalid_request_error";
    public const string ServerError = "server_error";
    public const string NotFound = "not_found_error";

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public string ContentType => "application/json";

    public ErrorResponse ToWire() => new(new ErrorBody(Message, Type, Param, Code));

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCode;
        response.ContentType = ContentType;
        if (RetryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        using (var writer = new Utf8JsonWriter(response.BodyWriter, JsonBodies.WriterOptions))
        {
            JsonSerializer.Serialize(writer, ToWire(), OpenAiJsonContext.Default.ErrorResponse);
        }

        await response.BodyWriter.FlushAsync(httpContext.RequestAborted);
    }
}

/// <summary>The errors the gateway itself produces (engine failures are mapped by <see cref="EngineFailureMapping"/>).</summary>
public static class ApiErrors
{
    public static ApiError InvalidParameter(string param, string message) =>
        new(StatusCodes.Status400BadRequest, message, ApiError.InvalidRequest, param, "invalid_value");

    /// <summary>A field holding an unpaired surrogate escape (<c>"\ud800"</c> alone): valid JSON grammar, but not text. An empty path is the top level.</summary>
    public static ApiError UnpairedSurrogate(string path) =>
        new(StatusCodes.Status400BadRequest,
            (path.Length == 0 ? "The request body" : $"'{path}'") +
            " holds an unpaired UTF-16 surrogate escape (a \\uD800-\\uDFFF without its other half), which is not text: send valid Unicode.",
            ApiError.InvalidRequest, path.Length == 0 ? null : path, "invalid_value");

    /// <summary>A field holding bytes that are not UTF-8 (JSON is UTF-8; a body sent as Latin-1 is the usual cause). An empty path is the top level.</summary>
    public static ApiError InvalidUtf8(string path) =>
        new(StatusCodes.Status400BadRequest,
            (path.Length == 0 ? "The request body" : $"'{path}'") + " holds bytes that are not UTF-8: send the JSON body encoded as UTF-8.",
            ApiError.InvalidRequest, path.Length == 0 ? null : path, "invalid_json");

    /// <summary>A parameter OpenAI defines that this server (or the backend serving the request) cannot honour: refused rather than ignored.</summary>
    public static ApiError UnsupportedParameter(string param, string message) =>
        new(StatusCodes.Status400BadRequest, message, ApiError.InvalidRequest, param, "unsupported_parameter");

    /// <summary>
    /// What one backend of the plan cannot carry (Anthropic and <c>logprobs</c>, an OpenAI upstream and more than 4 stop
    /// strings): the executor tries the next step, and answers this only when every step tried said so.
    /// </summary>
    public static ApiError UnsupportedByBackend(string param, string message) =>
        new(StatusCodes.Status400BadRequest, message, ApiError.InvalidRequest, param, UnsupportedByBackendCode);

    public const string UnsupportedByBackendCode = "unsupported_by_backend";

    public static ApiError MissingParameter(string param) =>
        new(StatusCodes.Status400BadRequest, $"'{param}' is required.", ApiError.InvalidRequest, param, "missing_required_parameter");

    public static ApiError InvalidJson(string? param) =>
        new(StatusCodes.Status400BadRequest,
            param is null
                ? "We could not parse the JSON body of your request: send a JSON object."
                : $"We could not parse the JSON body of your request: invalid or malformed value at '{param}'.",
            ApiError.InvalidRequest, param, "invalid_json");

    public static ApiError ModelNotFound() =>
        new(StatusCodes.Status404NotFound,
            "The model does not exist in the models folder. GET /v1/models lists the available models.",
            ApiError.InvalidRequest, "model", "model_not_found");

    public static ApiError BodyTooLarge(long? limit) =>
        new(StatusCodes.Status413PayloadTooLarge,
            limit is { } l ? $"The request body is larger than the limit of {l} bytes." : "The request body is too large.",
            ApiError.InvalidRequest, null, "request_too_large");

    public static ApiError ContentEncodingNotSupported() =>
        new(StatusCodes.Status415UnsupportedMediaType,
            "Request bodies must be sent uncompressed: a Content-Encoding other than identity is not supported.",
            ApiError.InvalidRequest, null, "unsupported_content_encoding");

    public static ApiError BadRequest() =>
        new(StatusCodes.Status400BadRequest, "The HTTP request could not be read.", ApiError.InvalidRequest, null, "bad_request");

    public static ApiError RouteNotFound() =>
        new(StatusCodes.Status404NotFound, "Unknown URL. The API is served under /v1 (see GET /v1/models).", ApiError.InvalidRequest, null, "unknown_url");

    public static ApiError MethodNotAllowed() =>
        new(StatusCodes.Status405MethodNotAllowed, "This URL does not accept this HTTP method.", ApiError.InvalidRequest, null, "method_not_allowed");

    public static ApiError OriginNotAllowed() =>
        new(StatusCodes.Status403Forbidden,
            "Requests from web pages of other sites are refused: the Origin header must name a loopback host (localhost, 127.0.0.1, [::1]) or one allowed with --allowed-hosts.",
            ApiError.InvalidRequest, null, "origin_not_allowed");

    public static ApiError HostNotAllowed() =>
        new(StatusCodes.Status403Forbidden,
            "The Host header is not allowed: this server answers only to loopback names (localhost, 127.0.0.1, [::1]) unless started with --allowed-hosts.",
            ApiError.InvalidRequest, null, "host_not_allowed");

    public static ApiError Internal() =>
        new(StatusCodes.Status500InternalServerError, "The server had an error while processing your request.", ApiError.ServerError, null, "internal_error");

    /// <summary>For a status the gateway did not set a body for (e.g. from the framework).</summary>
    public static ApiError ForStatus(int status) => status switch
    {
        StatusCodes.Status404NotFound => RouteNotFound(),
        StatusCodes.Status405MethodNotAllowed => MethodNotAllowed(),
        StatusCodes.Status413PayloadTooLarge => BodyTooLarge(null),
        >= 500 => Internal() with { StatusCode = status },
        _ => BadRequest() with { StatusCode = status },
    };
}
