using System.Net;
using System.Text;
using System.Text.Json;

namespace InferenceMesh.Gateway.Tests.Common;

internal static class ApiAssert
{
    /// <summary>Asserts the status and OpenAI's error shape, and that no stack trace or exception name leaks.</summary>
    public static async Task<JsonElement> ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string? param = null, string? code = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.ToString());
        NoLeak(body);
        using var document = JsonDocument.Parse(body);
        var error = document.RootElement.GetProperty("error").Clone();
        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out var actualParam));
        Assert.True(error.TryGetProperty("code", out var actualCode));
        if (param is not null) Assert.Equal(param, actualParam.GetString());
        if (code is not null) Assert.Equal(code, actualCode.GetString());
        return error;
    }

    public static void NoLeak(string body)
    {
        Assert.DoesNotContain("   at ", body);
        Assert.DoesNotContain("Exception", body);
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
