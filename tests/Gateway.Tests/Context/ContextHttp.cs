using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Context;

/// <summary>Raw HTTP helpers for the context store endpoints: send, check the status, parse the JSON answer.</summary>
internal static class ContextHttp
{
    public static async Task<JsonElement> SendAsync(HttpClient http, HttpMethod method, string path, string? json = null, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = ApiAssert.Json(json);
        }

        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        ApiAssert.NoLeak(body);
        using var document = JsonDocument.Parse(body);
        return document.RootElement.Clone();
    }

    public static Task<JsonElement> PostAsync(HttpClient http, string path, string? json, HttpStatusCode expected = HttpStatusCode.OK) =>
        SendAsync(http, HttpMethod.Post, path, json, expected);

    public static Task<JsonElement> GetAsync(HttpClient http, string path, HttpStatusCode expected = HttpStatusCode.OK) =>
        SendAsync(http, HttpMethod.Get, path, null, expected);

    /// <summary>POST /v1/conversations; returns the new id.</summary>
    public static async Task<string> CreateConversationAsync(HttpClient http, string json = "{}") =>
        (await PostAsync(http, "/v1/conversations", json)).GetProperty("id").GetString()!;

    /// <summary>Every item of a conversation, oldest first: (role, text, backend).</summary>
    public static async Task<List<(string Role, string Text, string? Backend)>> ItemsAsync(HttpClient http, string conversationId)
    {
        var list = await GetAsync(http, $"/v1/conversations/{conversationId}/items?order=asc&limit=100");
        return [.. list.GetProperty("data").EnumerateArray().Select(i => (
            i.GetProperty("role").GetString()!,
            i.GetProperty("content")[0].GetProperty("text").GetString()!,
            i.TryGetProperty("backend", out var b) ? b.GetString() : null))];
    }

    /// <summary>The error object of an OpenAI-shaped error answer (status checked).</summary>
    public static async Task<JsonElement> ErrorAsync(HttpClient http, HttpMethod method, string path, string? json, HttpStatusCode status, string? param = null, string? code = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = ApiAssert.Json(json);
        }

        using var response = await http.SendAsync(request);
        return await ApiAssert.ErrorAsync(response, status, param, code);
    }
}
