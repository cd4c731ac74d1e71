using System.Net;
using System.Net.Sockets;
using InferenceMesh.Gateway.Apis;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Context;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Mesh;
using InferenceMesh.Gateway.Rag;
using InferenceMesh.Gateway.Metrics;
using InferenceMesh.Gateway.Security;
using InferenceMesh.Gateway.Torrents;
using InferenceMesh.Mesh.Configuration;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace InferenceMesh.Gateway.Hosting;

/// <summary>Builds the gateway host: used by Program.cs and by functional tests (port 0, then <see cref="GetBoundAddress"/>).</summary>
internal static partial class GatewayApp
{
    /// <summary>Parses the flags and builds the host; invalid flags throw <see cref="GatewayOptionsException"/> with a one-line message.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var parsed = GatewayCommandLine.Parse(args);
        if (parsed.HelpRequested)
        {
            throw new GatewayOptionsException(GatewayCommandLine.Usage);
        }

        return Build(parsed.Options ?? throw new GatewayOptionsException(parsed.Error!), configure);
    }

    public static WebApplication Build(GatewayOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        if (options.Validate() is { } error)
        {
            throw new GatewayOptionsException(error);
        }

        // Command-line flags are ours: they are not handed to ASP.NET's configuration. There is no appsettings.json,
        // so nothing to reload; reloading would watch the content root (by default the working directory) recursively,
        // one inotify watch per directory below it and a wake-up for every file written anywhere there.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.AddGateway(options);
        configure?.Invoke(builder);

        var app = builder.Build();
        if (app.Services.GetRequiredService<BackendOptions>().Validate() is { } backendError)
        {
            throw new GatewayOptionsException(backendError);
        }

        app.UseGatewayPipeline();
        app.MapGatewayApis();
        return app;
    }

    /// <summary>Metrics outermost (they see the final status), then errors in OpenAI's shape, then the Host check.</summary>
    public static WebApplication UseGatewayPipeline(this WebApplication app)
    {
        app.UseMiddleware<RequestMetricsMiddleware>();
        app.UseMiddleware<ApiErrorMiddleware>();
        app.UseMiddleware<HostFilterMiddleware>();
        return app;
    }

    public static WebApplication MapGatewayApis(this WebApplication app)
    {
        app.MapModelsApi();
        app.MapChatCompletionsApi();
        app.MapRouteApi();
        app.MapCompletionsApi();
        app.MapResponsesApi();
        app.MapEmbeddingsApi();
        app.MapTokenizerApi();
        app.MapHealthApi();
        app.MapMetricsApi();
        app.MapMeshApi();
        app.MapChatContextApis();
        app.MapRagApis();
        app.MapTorrentsApi();
        return app;
    }

    /// <summary>The first address Kestrel bound (after StartAsync), e.g. http://127.0.0.1:41234.</summary>
    public static Uri GetBoundAddress(this WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault() ?? throw new InvalidOperationException("The gateway is not listening yet: call StartAsync first.");
        return new Uri(first);
    }

    /// <summary>
    /// One line for the first configured address another process holds, checked before the host starts: the gateway's
    /// <c>--port</c>, then the mesh's <c>mesh.listen</c> and its gossip address (serf's, TCP and UDP). Kestrel's own
    /// failure comes with the host's start-failure log and two stack traces; serf's was an agent restarted forever
    /// with its reason at debug level. Null when every fixed address is free (port 0 is picked at start).
    /// </summary>
    public static string? AddressInUse(GatewayOptions options, MeshOptions? mesh = null)
    {
        var host = string.Equals(options.Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(options.Host);
        if (options.Port != 0 && IsTaken(new IPEndPoint(host, options.Port), udpToo: false))
        {
            return AddressInUseMessage(options);
        }

        if (mesh is null)
        {
            return null;
        }

        string MeshKeyInUse(string key, IPEndPoint endpoint) =>
            $"mesh.{key} {endpoint} is already in use (another gateway's mesh, or another server on that port); stop it or change mesh.{key} in {options.ConfigPath}.";

        if (mesh.Listen.Port != 0 && IsTaken(mesh.Listen, udpToo: false))
        {
            return MeshKeyInUse("listen", mesh.Listen);
        }

        if (mesh.FixedGossip is { } gossip && IsTaken(gossip, udpToo: true))
        {
            return mesh.Gossip is null
                ? $"the mesh's gossip address {gossip} (mesh.listen's port + 1) is already in use; stop what holds it, or set mesh.gossip in {options.ConfigPath}."
                : MeshKeyInUse("gossip", gossip);
        }

        return null;
    }

    private static bool IsTaken(IPEndPoint endpoint, bool udpToo)
    {
        try
        {
            // SO_REUSEADDR as Kestrel and serf set it: a port left in TIME_WAIT is free, a listening socket is not.
            using (var tcp = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp))
            {
                tcp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                tcp.Bind(endpoint);
            }

            if (udpToo)
            {
                using var udp = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(endpoint);
            }

            return false;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return true;
        }
        catch (SocketException)
        {
            return false; // anything else (no IPv6, a permission) is the listener's to report
        }
    }

    /// <summary>True for Kestrel's start failure on a taken address (what <see cref="AddressInUse"/> checks first; a race can still get here).</summary>
    public static bool IsAddressInUse(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is Microsoft.AspNetCore.Connections.AddressInUseException or SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
            {
                return true;
            }
        }

        return false;
    }

    public static string AddressInUseMessage(GatewayOptions options) =>
        $"{options.Host}:{options.Port} is already in use (another gateway, or another server on that port); stop it or choose another --port.";

    public static void LogListening(WebApplication app, GatewayOptions options)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InferenceMesh.Gateway");
        Log.Listening(logger, string.Join(", ", app.Urls), options.ModelsDirectory);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Inference Mesh gateway listening on {Addresses}; models folder {ModelsDirectory}")]
        public static partial void Listening(ILogger logger, string addresses, string modelsDirectory);
    }
}

/// <summary>Invalid command-line flags or options; the message is one line for the console.</summary>
public sealed class GatewayOptionsException(string message) : Exception(message);
