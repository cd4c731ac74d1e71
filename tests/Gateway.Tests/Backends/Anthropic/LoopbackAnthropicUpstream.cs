using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Gateway.Tests.Backends.Anthropic;

/// <summary>
/// A real Kestrel host on 127.0.0.1 port 0 that speaks the Anthropic Messages protocol as scripted by a
/// test: POST /v1/messages and GET /v1/models answer with <see cref="Respond"/> (text or tool_use answers, streamed or
/// not: <see cref="AnthropicScript"/>). Every request is recorded (method, path, headers, body; <see cref="RecordedRequest.Json"/>).
/// Like the real API, a messages request holding tool_use or tool_result blocks but no tools is a 400, whatever the script.
/// </summary>
internal sealed class LoopbackAnthropicUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackAnthropicUpstream(WebApplication app) => _app = app;

    /// <summary>How to answer; a 200 empty JSON object until set.</summary>
    public Func<HttpContext, Task> Respond { get; set; } = context => context.Response.WriteAsync("{}");

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    public RecordedRequest SingleRequest => Assert.Single(Requests);

    public static async Task<LoopbackAnthropicUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var upstream = new LoopbackAnthropicUpstream(app);
        app.MapPost("/v1/messages", upstream.HandleAsync);
        app.MapGet("/v1/models", upstream.HandleAsync);
        await app.StartAsync();
        upstream.BaseAddress = app.GetBoundAddress();
        return upstream;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        Requests.Enqueue(new RecordedRequest(
            context.Request.Method,
            context.Request.Path.Value!,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            body));
        if (context.Request.Path == "/v1/messages" && ToolBlocksWithoutTools(body))
        {
            // As the real API: a history with tool calls needs the tools declared, whatever the script says.
            await Json(400, """{"type":"error","error":{"type":"invalid_request_error","message":"Requests which include tool_use or tool_result blocks must define tools."}}""")(context);
            return;
        }

        await Respond(context);
    }

    private static bool ToolBlocksWithoutTools(string body)
    {
        try
        {
            var request = JsonDocument.Parse(body).RootElement;
            var hasToolBlocks = request.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array
                && messages.EnumerateArray().Any(m => m.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array
                    && content.EnumerateArray().Any(b => b.TryGetProperty("type", out var type) && type.GetString() is "tool_use" or "tool_result"));
            return hasToolBlocks && !(request.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0);
        }
        catch (JsonException)
        {
            return false; // a body a test sends on purpose; the script answers it
        }
    }

    /// <summary>Answers with a JSON body and status.</summary>
    public static Func<HttpContext, Task> Json(int status, string json, string? retryAfter = null) => async context =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        if (retryAfter is not null)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }

        await context.Response.WriteAsync(json);
    };

    /// <summary>
    /// Answers 200 text/event-stream with each (event, data) pair as <c>event: …\ndata: …\n\n</c>, flushed
    /// one by one. With <paramref name="abortWhen"/> the connection is reset (no clean end) once that task
    /// completes, i.e. once the test has read what was sent (a reset can discard unread data).
    /// </summary>
    public static Func<HttpContext, Task> Events(IEnumerable<(string Event, string Data)> events, Task? abortWhen = null) => async context =>
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        await context.Response.StartAsync();
        foreach (var (name, data) in events)
        {
            await context.Response.WriteAsync($"event: {name}\ndata: {data}\n\n");
            await context.Response.Body.FlushAsync();
        }

        if (abortWhen is not null)
        {
            await abortWhen;
            context.Abort();
        }
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

internal sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The body parsed (what the gateway sent, to assert on its translation).</summary>
    public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();
}

/// <summary>A clock fixed at one instant (only GetUtcNow is used for <c>created</c>; timers stay real).</summary>
internal sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>Canned Anthropic protocol text.</summary>
internal static class AnthropicScript
{
    public const string MessageStart = """{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-test-1","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}""";
    public const string BlockStart = """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""";
    public const string Ping = """{"type": "ping"}""";
    public const string BlockStop = """{"type":"content_block_stop","index":0}""";
    public const string MessageStop = """{"type":"message_stop"}""";

    public static (string, string) Delta(string text) =>
        ("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""" + JsonSerializer.Serialize(text) + "}}");

    /// <summary>A text delta whose <c>text</c> is <paramref name="jsonText"/> as it goes into the JSON (escapes included, e.g. a lone <c>\ud83d</c>).</summary>
    public static (string, string) DeltaJsonText(string jsonText) =>
        ("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""" + "\"" + jsonText + "\"}}");

    /// <summary>A whole stream whose text deltas are <paramref name="jsonTexts"/> as they go into the JSON (escapes included).</summary>
    public static List<(string, string)> OfJsonTexts(params string[] jsonTexts) =>
    [
        ("message_start", MessageStart),
        ("content_block_start", BlockStart),
        .. jsonTexts.Select(DeltaJsonText),
        ("content_block_stop", BlockStop),
        MessageDelta("end_turn", 5),
        ("message_stop", MessageStop),
    ];

    public static (string, string) MessageDelta(string stopReason, int outputTokens) =>
        ("message_delta", $$$"""{"type":"message_delta","delta":{"stop_reason":"{{{stopReason}}}","stop_sequence":null},"usage":{"output_tokens":{{{outputTokens}}}""" + "}}");

    /// <summary>
    /// A non-streamed answer calling tools: an optional text block, then one tool_use block per call (input as JSON text),
    /// stop_reason tool_use.
    /// </summary>
    public static string ToolUseMessage(string? text, params (string Id, string Name, string Input)[] calls)
    {
        var blocks = new List<string>();
        if (text is not null)
        {
            blocks.Add("""{"type":"text","text":""" + JsonSerializer.Serialize(text) + "}");
        }

        blocks.AddRange(calls.Select(c => $$"""{"type":"tool_use","id":"{{c.Id}}","name":"{{c.Name}}","input":{{c.Input}}}"""));
        return """{"id":"msg_02","type":"message","role":"assistant","model":"claude-test-1","content":[""" + string.Join(',', blocks)
            + """],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":9}}""";
    }

    /// <summary>
    /// A streamed answer calling tools, as Anthropic streams it: an optional text block (index 0), then per call a tool_use
    /// content_block_start (empty input) at the next block index, its input as input_json_delta fragments and a stop.
    /// </summary>
    public static List<(string, string)> ToolUseStream(string? text, params (string Id, string Name, string[] Fragments)[] calls)
    {
        var events = new List<(string, string)> { ("message_start", MessageStart) };
        var index = 0;
        if (text is not null)
        {
            events.Add(("content_block_start", BlockStart));
            events.Add(Delta(text));
            events.Add(("content_block_stop", BlockStop));
            index++;
        }

        foreach (var (id, name, fragments) in calls)
        {
            events.Add(ToolUseStart(index, id, name));
            events.AddRange(fragments.Select(f => ("content_block_delta", InputJsonDelta(index, f))));
            events.Add(("content_block_stop", $$"""{"type":"content_block_stop","index":{{index}}}"""));
            index++;
        }

        events.Add(MessageDelta("tool_use", 9));
        events.Add(("message_stop", MessageStop));
        return events;
    }

    /// <summary>The content_block_start of a tool_use block (empty input, as Anthropic sends it).</summary>
    public static (string, string) ToolUseStart(int index, string id, string name) =>
        ("content_block_start", $$$"""{"type":"content_block_start","index":{{{index}}},"content_block":{"type":"tool_use","id":"{{{id}}}","name":"{{{name}}}","input":{""" + "}}}");

    /// <summary>The data of an input_json_delta event of block <paramref name="index"/>.</summary>
    public static string InputJsonDelta(int index, string fragment) =>
        $$$"""{"type":"content_block_delta","index":{{{index}}},"delta":{"type":"input_json_delta","partial_json":{{{JsonSerializer.Serialize(fragment)}}}}}""";

    /// <summary>A whole stream of "Hello" + ", world" ending with <paramref name="stopReason"/>.</summary>
    public static List<(string, string)> HelloWorld(string stopReason = "end_turn") =>
    [
        ("message_start", MessageStart),
        ("content_block_start", BlockStart),
        ("ping", Ping),
        Delta("Hello"),
        Delta(", world"),
        ("content_block_stop", BlockStop),
        MessageDelta(stopReason, 5),
        ("message_stop", MessageStop),
    ];
}
