// A minimal loopback server that speaks OpenAI's chat-completions protocol, as fast as Kestrel allows, so that
// whatever a proxy adds stands out. POST /v1/chat/completions: a fixed small chat.completion (non-streamed) or
// CHUNKS chat.completion.chunk events GAP_MS apart, then [DONE] (streamed); GET /v1/models: one model (the
// gateway's circuit probe). Every response is precomputed; the request body is only scanned for "stream".
//
//   loopback-openai-upstream [--port N (0 = free port)] [--chunks 64] [--gap-ms 1]
// Prints "listening on http://127.0.0.1:PORT" once ready. Loopback only. Stops on SIGTERM/SIGINT or when its
// parent's pipe closes (--stop-when-stdin-closes).
using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

var port = 0;
var chunks = 64;
var gapMs = 1.0;
var stopOnStdin = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--port": port = int.Parse(args[++i]); break;
        case "--chunks": chunks = int.Parse(args[++i]); break;
        case "--gap-ms": gapMs = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--stop-when-stdin-closes": stopOnStdin = true; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

if (chunks < 1) { Console.Error.WriteLine("--chunks must be >= 1"); return 2; }

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Listen(IPAddress.Loopback, port);
    k.AddServerHeader = false;
    k.Limits.MaxConcurrentConnections = 4096;
});
var app = builder.Build();

var completion = Encoding.UTF8.GetBytes(
    """{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-upstream","choices":[{"index":0,"message":{"role":"assistant","content":"The sea is calm tonight."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}""");
var events = new byte[chunks][];
for (var i = 0; i < chunks; i++)
{
    var delta = i == 0 ? $$"""{"role":"assistant","content":"t{{i}} "}""" : $$"""{"content":"t{{i}} "}""";
    var finish = i == chunks - 1 ? "\"stop\"" : "null";
    events[i] = Encoding.UTF8.GetBytes(
        $$"""data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-upstream","choices":[{"index":0,"delta":{{delta}},"finish_reason":{{finish}}}]}""" + "\n\n");
}

var done = "data: [DONE]\n\n"u8.ToArray();
var models = """{"object":"list","data":[{"id":"bench-upstream","object":"model","created":1700000000,"owned_by":"bench"}]}"""u8.ToArray();
var gap = TimeSpan.FromMilliseconds(gapMs);

app.MapGet("/v1/models", (HttpContext http) =>
{
    http.Response.ContentType = "application/json";
    http.Response.ContentLength = models.Length;
    return http.Response.Body.WriteAsync(models).AsTask();
});

app.MapPost("/v1/chat/completions", async (HttpContext http) =>
{
    var stream = await ReadsStreamFlagAsync(http.Request.BodyReader, http.RequestAborted);
    var response = http.Response;
    if (!stream)
    {
        response.ContentType = "application/json";
        response.ContentLength = completion.Length;
        await response.Body.WriteAsync(completion, http.RequestAborted);
        return;
    }

    response.ContentType = "text/event-stream";
    response.Headers.CacheControl = "no-cache";
    await response.StartAsync(http.RequestAborted);
    for (var i = 0; i < events.Length; i++)
    {
        if (i > 0 && gap > TimeSpan.Zero)
        {
            await Task.Delay(gap, http.RequestAborted);
        }

        await response.Body.WriteAsync(events[i], http.RequestAborted);
        await response.Body.FlushAsync(http.RequestAborted);
    }

    await response.Body.WriteAsync(done, http.RequestAborted);
    await response.Body.FlushAsync(http.RequestAborted);
});

await app.StartAsync();
var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
Console.WriteLine($"listening on {address}");
Console.Out.Flush();

if (stopOnStdin)
{
    _ = Task.Run(() =>
    {
        while (Console.In.Read() >= 0) { }
        app.Lifetime.StopApplication();
    });
}

await app.WaitForShutdownAsync();
return 0;

// Reads the whole body and returns the top-level "stream" flag (false when absent or not true).
static async Task<bool> ReadsStreamFlagAsync(System.IO.Pipelines.PipeReader reader, CancellationToken cancellationToken)
{
    while (true)
    {
        var result = await reader.ReadAsync(cancellationToken);
        if (result.IsCompleted)
        {
            var found = FindStream(result.Buffer);
            reader.AdvanceTo(result.Buffer.End);
            return found;
        }

        reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
    }
}

static bool FindStream(ReadOnlySequence<byte> body)
{
    try
    {
        var json = new Utf8JsonReader(body);
        while (json.Read())
        {
            if (json.TokenType == JsonTokenType.PropertyName && json.CurrentDepth == 1)
            {
                var isStream = json.ValueTextEquals("stream"u8);
                json.Read();
                if (isStream) return json.TokenType == JsonTokenType.True;
                json.Skip();
            }
        }
    }
    catch (JsonException)
    {
    }

    return false;
}
