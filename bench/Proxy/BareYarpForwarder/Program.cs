using System.Net;
using Yarp.ReverseProxy.Forwarder;

// bare-yarp-forwarder --port N --upstream http://127.0.0.1:P : forwards every request to the upstream, unchanged.
// The same HTTP client settings as the gateway's BackendTransport; no logging (like nginx's access_log off).
var port = Arg("--port") ?? "0";
var upstream = Arg("--upstream") ?? throw new ArgumentException("--upstream URL is required");

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
builder.Services.AddHttpForwarder();
var app = builder.Build();

var invoker = new HttpMessageInvoker(new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    UseCookies = false,
    EnableMultipleHttp2Connections = true,
    ActivityHeadersPropagator = null,
});
var config = new ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromSeconds(100), AllowResponseBuffering = false };
var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
app.Map("/{**rest}", async (HttpContext context) =>
{
    await forwarder.SendAsync(context, upstream, invoker, config, HttpTransformer.Empty);
});

await app.StartAsync();
Console.WriteLine($"listening on {app.Urls.First()}");
await app.WaitForShutdownAsync();

string? Arg(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
