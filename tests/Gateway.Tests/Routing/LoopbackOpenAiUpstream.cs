using InferenceMesh.Gateway.Tests.Common;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>What a loopback upstream does with the next chat request.</summary>
public enum UpstreamBehaviour
{
    /// <summary>200 JSON chat.completion (or SSE of <see cref="LoopbackOpenAiUpstream.Chunks"/> chunks when the request streams).</summary>
    Normal,

    /// <summary>500 with an error body.</summary>
    Status500,

    /// <summary>503 with an error body.</summary>
    Status503,

    /// <summary>400 with an error body that echoes the request (a gateway must not pass it on).</summary>
    Status400,

    /// <summary>200 with an empty body.</summary>
    Empty200,

    /// <summary>200 text/event-stream whose first event is not JSON.</summary>
    MalformedSse,

    /// <summary>SSE: <see cref="LoopbackOpenAiUpstream.CloseAfter"/> chunks, then the connection is aborted (no [DONE]).</summary>
    CloseAfterChunks,

    /// <summary>Never sends a byte until the client gives up (or the upstream is disposed).</summary>
    HangBeforeFirstByte,

    /// <summary>SSE: <see cref="LoopbackOpenAiUpstream.CloseAfter"/> chunks, then silence (connection open) until the client gives up.</summary>
    SilentAfterChunks,
}

/// <summary>
/// A loopback server (real Kestrel on 127.0.0.1 port 0) that speaks OpenAI's chat-completions protocol and
/// stands in for a cloud backend. Records every request it receives (method, path, headers, body).
/// Behaviour is settable between requests. Each chunk's content is "c{i} ".
/// </summary>
internal class LoopbackOpenAiUpstream : IAsyncDisposable
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;
    private TaskCompletionSource _requestArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public sealed record RecordedRequest(string Method, string Path, string? Authorization, IReadOnlyDictionary<string, string> Headers, string Body);

    public UpstreamBehaviour Behaviour { get; set; } = UpstreamBehaviour.Normal;

    /// <summary>Chunks of a normal stream.</summary>
    public int Chunks { get; set; } = 3;

    /// <summary>Chunks sent before <see cref="UpstreamBehaviour.CloseAfterChunks"/> aborts (or <see cref="UpstreamBehaviour.SilentAfterChunks"/> goes silent).</summary>
    public int CloseAfter { get; set; } = 2;

    /// <summary>
    /// <see cref="UpstreamBehaviour.CloseAfterChunks"/> waits for this before aborting, so a test can first see the
    /// chunks arrive at its client (an abort's RST may otherwise discard bytes not yet read). Completed by default.
    /// </summary>
    public TaskCompletionSource CloseGate { get; set; } = CompletedGate();

    /// <summary>
    /// Sends a stream request that this upstream breaks after its first two chunks ("c0 c1 "): reads until the client has
    /// them, then lets the connection die (<see cref="CloseGate"/>) and reads the rest of what the gateway sends.
    /// </summary>
    public async Task<(HttpResponseMessage Response, string Body)> ReadStreamBrokenAfterTwoChunksAsync(HttpClient http, HttpRequestMessage request)
    {
        Behaviour = UpstreamBehaviour.CloseAfterChunks;
        CloseAfter = 2;
        CloseGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var received = new StringBuilder();
        while (!received.ToString().Contains("c1 ", StringComparison.Ordinal))
        {
            received.Append(await reader.ReadLineAsync()).Append('\n');
        }

        CloseGate.SetResult();
        received.Append(await reader.ReadToEndAsync());
        return (response, received.ToString());
    }

    /// <summary>Status of GET /v1/models (the circuit probe).</summary>
    public int ModelsStatus { get; set; } = 200;

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>
    /// When set, answers every chat request instead of <see cref="Behaviour"/> (after recording it): a test writes the
    /// exact status, headers and bytes of an unusual or broken upstream. Gets the request's <c>stream</c> flag.
    /// </summary>
    public Func<HttpContext, bool, Task>? Script { get; set; }

    /// <summary>The non-streamed answer's content as it goes into the JSON (escapes included).</summary>
    public string AnswerJsonText { get; set; } = "from the cloud";

    /// <summary>When set, the streamed chunks' contents as they go into the JSON (escapes included), instead of "c{i} ".</summary>
    public IReadOnlyList<string>? ChunkJsonTexts { get; set; }

    public IEnumerable<RecordedRequest> ChatRequests => Requests.Where(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal));

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The OpenAI base URL to put in the gateway's config (".../v1").</summary>
    public string BaseUrl => new Uri(BaseAddress, "/v1").ToString();

    /// <summary>Completes when the next request arrives (reset with <see cref="ExpectRequest"/>).</summary>
    public Task RequestArrived => _requestArrived.Task;

    public void ExpectRequest() => _requestArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<T> StartAsync<T>(T upstream)
        where T : LoopbackOpenAiUpstream
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapPost("/v1/chat/completions", upstream.ChatAsync);
        app.MapGet("/v1/models", (Func<HttpContext, IResult>)upstream.Models);
        await app.StartAsync();
        upstream._app = app;
        upstream.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return upstream;
    }

    public static Task<LoopbackOpenAiUpstream> StartAsync() => StartAsync(new LoopbackOpenAiUpstream());

    private IResult Models(HttpContext http)
    {
        Record(http, string.Empty);
        return ModelsStatus == 200
            ? Results.Text("""{"object":"list","data":[{"id":"upstream-model","object":"model"}]}""", "application/json")
            : Results.StatusCode(ModelsStatus);
    }

    private async Task ChatAsync(HttpContext http)
    {
        string body;
        using (var reader = new StreamReader(http.Request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync();
        }

        Record(http, body);
        var stream = false;
        var model = "upstream-model";
        using (var document = JsonDocument.Parse(body))
        {
            if (document.RootElement.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True) stream = true;
            if (document.RootElement.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String) model = m.GetString()!;
        }

        if (Script is { } script)
        {
            await script(http, stream);
            return;
        }

        var response = http.Response;
        switch (Behaviour)
        {
            case UpstreamBehaviour.Status500:
            case UpstreamBehaviour.Status503:
            case UpstreamBehaviour.Status400:
                response.StatusCode = Behaviour switch { UpstreamBehaviour.Status500 => 500, UpstreamBehaviour.Status503 => 503, _ => 400 };
                response.ContentType = "application/json";
                // Upstreams do echo request text in errors: the gateway must never pass this on.
                await response.WriteAsync(JsonSerializer.Serialize(new { error = new { message = "upstream says: " + body, type = "server_error" } }));
                return;

            case UpstreamBehaviour.Empty200:
                response.StatusCode = 200;
                response.ContentType = stream ? "text/event-stream" : "application/json";
                return;

            case UpstreamBehaviour.MalformedSse:
                response.StatusCode = 200;
                response.ContentType = stream ? "text/event-stream" : "application/json";
                await response.WriteAsync(stream ? "data: this is not json\n\n" : "{ not json");
                return;

            case UpstreamBehaviour.HangBeforeFirstByte:
                await Task.WhenAny(_released.Task, http.RequestAborted.WhenCancelled());
                return;
        }

        const string id = "chatcmpl-upstream-1";
        if (!stream)
        {
            response.ContentType = "application/json";
            await response.WriteAsync($$$"""{"id":"{{{id}}}","object":"chat.completion","created":1700000000,"model":"{{{model}}}","choices":[{"index":0,"message":{"role":"assistant","content":"{{{AnswerJsonText}}}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}""");
            return;
        }

        response.ContentType = "text/event-stream";
        await response.StartAsync();
        var count = Behaviour is UpstreamBehaviour.CloseAfterChunks or UpstreamBehaviour.SilentAfterChunks ? CloseAfter : ChunkJsonTexts?.Count ?? Chunks;
        await WriteEventAsync(response, $$"""{"id":"{{id}}","object":"chat.completion.chunk","created":1700000000,"model":"{{model}}","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}""");
        for (var i = 0; i < count; i++)
        {
            await WriteEventAsync(response, $$"""{"id":"{{id}}","object":"chat.completion.chunk","created":1700000000,"model":"{{model}}","choices":[{"index":0,"delta":{"content":"{{ChunkJsonTexts?[i] ?? $"c{i} "}}"},"finish_reason":null}]}""");
        }

        if (Behaviour == UpstreamBehaviour.SilentAfterChunks)
        {
            await Task.WhenAny(_released.Task, http.RequestAborted.WhenCancelled());
            return;
        }

        if (Behaviour == UpstreamBehaviour.CloseAfterChunks)
        {
            // Half an event, then the connection dies: the gateway must never pass the half on.
            await response.WriteAsync("data: {\"id\":\"chatcmpl-upstr");
            await response.Body.FlushAsync();
            await CloseGate.Task;
            http.Abort();
            return;
        }

        await WriteEventAsync(response, $$"""{"id":"{{id}}","object":"chat.completion.chunk","created":1700000000,"model":"{{model}}","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""");
        await response.WriteAsync("data: [DONE]\n\n");
    }

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource();
        gate.SetResult();
        return gate;
    }

    private static async Task WriteEventAsync(HttpResponse response, string json)
    {
        await response.WriteAsync("data: " + json + "\n\n");
        await response.Body.FlushAsync();
    }

    private void Record(HttpContext http, string body)
    {
        var headers = http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        Requests.Enqueue(new RecordedRequest(http.Request.Method, http.Request.Path.Value ?? string.Empty, headers.GetValueOrDefault("Authorization"), headers, body));
        _requestArrived.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        _released.TrySetResult();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}

/// <summary>
/// A loopback OpenAI-protocol upstream that answers normally and records every request: the stand-in for a
/// best-scoring cloud that must never see a confidential prompt (tests assert it stays empty).
/// </summary>
internal sealed class RecordingUpstream : LoopbackOpenAiUpstream
{
    public static new Task<RecordingUpstream> StartAsync() => StartAsync(new RecordingUpstream());
}
