using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Rag;

/// <summary>Raw-HTTP steps of the RAG API shared by the tests: upload, create a store, wait for ingestion, search.</summary>
internal static class RagHttp
{
    public static MultipartFormDataContent Upload(string fileName, byte[] content, string? purpose = "assistants")
    {
        var form = new MultipartFormDataContent();
        if (purpose is not null)
        {
            form.Add(new StringContent(purpose), "purpose");
        }

        var file = new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", fileName);
        return form;
    }

    /// <summary>Uploads and returns the file object; fails the test unless 200.</summary>
    public static async Task<JsonElement> UploadAsync(HttpClient http, string fileName, byte[] content)
    {
        using var response = await http.PostAsync("/v1/files", Upload(fileName, content));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body)> PostJsonAsync(HttpClient http, string path, string json)
    {
        using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Creates a store over <paramref name="fileIds"/> and waits until no file is in progress; returns the store.</summary>
    public static async Task<JsonElement> CreateStoreAndWaitAsync(HttpClient http, string extraFields, params string[] fileIds)
    {
        var ids = string.Join(",", fileIds.Select(id => $"\"{id}\""));
        var (status, created) = await PostJsonAsync(http, "/v1/vector_stores", $$"""{"name":"test store","file_ids":[{{ids}}]{{extraFields}}}""");
        Assert.True(status == HttpStatusCode.OK, created.ToString());
        return await WaitForStoreAsync(http, created.GetProperty("id").GetString()!);
    }

    /// <summary>Polls the store until its status is no longer "in_progress" (ingestion runs in the background).</summary>
    public static async Task<JsonElement> WaitForStoreAsync(HttpClient http, string storeId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (true)
        {
            var store = await GetJsonAsync(http, $"/v1/vector_stores/{storeId}");
            if (store.GetProperty("status").GetString() != "in_progress")
            {
                return store;
            }

            await Task.Delay(25, timeout.Token);
        }
    }

    public static async Task<JsonElement> SearchAsync(HttpClient http, string storeId, string query, int maxResults = 10)
    {
        var (status, page) = await PostJsonAsync(http, $"/v1/vector_stores/{storeId}/search",
            JsonSerializer.Serialize(new Dictionary<string, object> { ["query"] = query, ["max_num_results"] = maxResults }));
        Assert.True(status == HttpStatusCode.OK, page.ToString());
        return page;
    }

    /// <summary>The text of every result, in order.</summary>
    public static List<string> Texts(JsonElement page) =>
        [.. page.GetProperty("data").EnumerateArray().Select(r => string.Concat(r.GetProperty("content").EnumerateArray().Select(c => c.GetProperty("text").GetString())))];

    public static Task<TestEnvironment> StartGatewayAsync(Action<TestEnvironment>? configure = null) => TestEnvironment.StartAsync(configure);
}
