using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>How every JSON body the gateway writes is escaped (successes, errors, SSE events).</summary>
public static class JsonBodies
{
    /// <summary>
    /// JSON for API clients is never embedded in HTML, so text such as "don't" or a quoted field name stays readable
    /// (no \u0027, \u0022); control characters are still escaped.
    /// </summary>
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}

/// <summary>
/// A 200 JSON typed result serialised with a source-generated context's own options (snake_case), not the
/// host's HTTP JSON options (which would re-apply camelCase to the generated metadata).
/// </summary>
public sealed class JsonOk<T>(T value, JsonTypeInfo<T> typeInfo) : IResult, IStatusCodeHttpResult, IValueHttpResult, IValueHttpResult<T>, IContentTypeHttpResult
{
    public T Value => value;

    object? IValueHttpResult.Value => value;

    public int StatusCode => StatusCodes.Status200OK;

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public string ContentType => "application/json; charset=utf-8";

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCode;
        response.ContentType = ContentType;
        using (var writer = new Utf8JsonWriter(response.BodyWriter, JsonBodies.WriterOptions))
        {
            JsonSerializer.Serialize(writer, value, typeInfo);
        }

        await response.BodyWriter.FlushAsync(httpContext.RequestAborted);
    }
}
