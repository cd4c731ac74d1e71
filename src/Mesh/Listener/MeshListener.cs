using System.Net;
using System.Text.Json;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Serving;
using InferenceMesh.Mesh.Trust;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace InferenceMesh.Mesh.Listener;

/// <summary>
/// The mesh's own HTTPS listener (a separate Kestrel host on <c>mesh.listen</c>, so none of the gateway's
/// local API is reachable from the network): mutual TLS with self-signed certificates. A client certificate is
/// required; its key must hash to an id the trust policy admits, else the TLS handshake fails. Serves
/// <c>GET /mesh/v1/capabilities</c>.
/// </summary>
public sealed partial class MeshListener(
    MeshOptions options,
    MeshCertificates certificates,
    TrustPolicy trust,
    LocalAdvertBuilder adverts,
    TimeProvider time,
    ILogger<MeshListener> logger,
    IEnumerable<IPeerRequestHandler>? handlers = null,
    PeerServingStats? stats = null) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>The bound address (after start); port 0 in the options becomes the real port here.</summary>
    public IPEndPoint? BoundEndpoint { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // No appsettings.json, so no reload (which would watch the working directory recursively with inotify).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MeshDefaults.MaxPeerRequestBytes;
            kestrel.Listen(options.Listen, listen => listen.UseHttps(https =>
            {
                https.ServerCertificateSelector = (_, _) => certificates.Current;
                https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                https.ClientCertificateValidation = (certificate, _, _) => Admit(certificate);
            }));
        });
        var app = builder.Build();
        app.MapGet("/mesh/v1/capabilities", () => Results.Bytes(
            JsonSerializer.SerializeToUtf8Bytes(adverts.Build(), MeshJsonContext.Default.CapabilityAdvert), "application/json"));
        var handler = handlers?.FirstOrDefault();
        app.MapPost("/mesh/v1/chat/completions", (HttpContext http) => ServeChatAsync(http, handler));
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(address);
        BoundEndpoint = new IPEndPoint(options.Listen.Address, uri.Port);
        Log.Listening(logger, BoundEndpoint.ToString());
    }

    /// <summary>A peer's chat request: the caller is the id its client certificate proves (the handshake already admitted it).</summary>
    private async Task ServeChatAsync(HttpContext http, IPeerRequestHandler? handler)
    {
        stats?.OnReceived();
        var certificate = http.Connection.ClientCertificate;
        var error = PeerCertificateCheck.Check(certificate, time.GetUtcNow(), null, out var id);
        var level = error == PeerCertificateError.None ? trust.Resolve(id) : null;
        if (level is null || handler is null)
        {
            stats?.OnRefused();
            http.Response.StatusCode = handler is null ? StatusCodes.Status404NotFound : StatusCodes.Status403Forbidden;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(handler is null
                ? """{"error":{"message":"This node does not serve peers.","type":"invalid_request_error","param":null,"code":"not_serving"}}"""
                : """{"error":{"message":"This node does not admit your node id.","type":"invalid_request_error","param":null,"code":"peer_not_admitted"}}""").ConfigureAwait(false);
            return;
        }

        try
        {
            await handler.HandleChatAsync(http, new PeerCaller(id, level.Value)).ConfigureAwait(false);
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            // A bug: logged without the request, answered in OpenAI's shape when nothing was sent yet.
            Log.ServeFailed(logger, id.Short, ex);
            if (http.Response.HasStarted)
            {
                http.Abort();
                return;
            }

            http.Response.Clear();
            http.Response.StatusCode = StatusCodes.Status500InternalServerError;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync("""{"error":{"message":"The peer failed to serve the request.","type":"server_error","param":null,"code":"internal_error"}}""").ConfigureAwait(false);
        }
    }

    /// <summary>The TLS-level admission: valid window, P-256 key, and an id the trust policy admits.</summary>
    internal bool Admit(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        var error = PeerCertificateCheck.Check(certificate, time.GetUtcNow(), null, out var id);
        if (error == PeerCertificateError.None && trust.Resolve(id) is null)
        {
            error = PeerCertificateError.NotAdmitted;
        }

        if (error != PeerCertificateError.None)
        {
            Log.Refused(logger, id.Equals(default) ? "?" : id.Short, error);
            return false;
        }

        return true;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "mesh mTLS listener on {Endpoint}")]
        public static partial void Listening(ILogger logger, string endpoint);

        [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "refused a mesh client {NodeId}: {Reason}")]
        public static partial void Refused(ILogger logger, string nodeId, PeerCertificateError reason);

        [LoggerMessage(EventId = 202, Level = LogLevel.Error, Message = "serving a chat request of peer {NodeId} failed")]
        public static partial void ServeFailed(ILogger logger, string nodeId, Exception exception);
    }
}
