using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InferenceMesh.Gateway.OpenAi;

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

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCode;
        return httpContext.Response.WriteAsJsonAsync(value, typeInfo, ContentType, httpContext.RequestAborted);
    }
}
