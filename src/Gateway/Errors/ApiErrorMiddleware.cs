using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using BadHttpRequestException = Microsoft.AspNetCore.Http.BadHttpRequestException;

namespace InferenceMesh.Gateway.Errors;

/// <summary>
/// Turns every failure that escapes an endpoint (exceptions, framework 404/405, Kestrel's 413) into an
/// OpenAI-shaped error, so no stack trace or framework page ever reaches a client. A compressed request body
/// (Content-Encoding) is refused with 415 before any endpoint reads it.
/// </summary>
internal sealed partial class ApiErrorMiddleware(RequestDelegate next, IOptions<KestrelServerOptions> kestrel, ILogger<ApiErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Request.Headers.ContentEncoding is { Count: > 0 } encoding
            && !encoding.All(e => string.Equals(e?.Trim(), "identity", StringComparison.OrdinalIgnoreCase)))
        {
            // A compressed body would be read as bytes of JSON (a confusing invalid_json) or, forwarded, reach an
            // upstream without the header that says how to read it.
            await WriteAsync(context, ApiErrors.ContentEncodingNotSupported());
            return;
        }

        try
        {
            await next(context);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            Log.BadRequest(logger, ex.StatusCode);
            var error = ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? ApiErrors.BodyTooLarge(context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? kestrel.Value.Limits.MaxRequestBodySize)
                : ApiErrors.ForStatus(ex.StatusCode);
            await WriteAsync(context, error);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            Log.ClientDisconnected(logger);
            if (!context.Response.HasStarted)
            {
                context.Response.StatusCode = EngineFailureMapping.ClientClosedRequest;
            }

            return;
        }
        catch (Exception ex)
        {
            Log.UnhandledException(logger, ex);
            if (context.Response.HasStarted)
            {
                // Nothing clean can be written any more: drop the connection so the client sees a failure, not a truncated success.
                context.Abort();
                return;
            }

            await WriteAsync(context, ApiErrors.Internal());
            return;
        }

        var response = context.Response;
        if (!response.HasStarted && response.StatusCode >= 400 && response.ContentLength is null && string.IsNullOrEmpty(response.ContentType))
        {
            await WriteAsync(context, ApiErrors.ForStatus(response.StatusCode));
        }
    }

    private static Task WriteAsync(HttpContext context, ApiError error)
    {
        context.Response.Clear();
        return error.ExecuteAsync(context);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Bad HTTP request answered with status {Status}")]
        public static partial void BadRequest(ILogger logger, int status);

        [LoggerMessage(EventId = 1101, Level = LogLevel.Debug, Message = "Client disconnected before the response completed")]
        public static partial void ClientDisconnected(ILogger logger);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "Unhandled exception; answered with a generic 500")]
        public static partial void UnhandledException(ILogger logger, Exception exception);
    }
}
