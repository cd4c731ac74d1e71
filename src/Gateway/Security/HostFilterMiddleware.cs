using System.Net;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Hosting;

namespace InferenceMesh.Gateway.Security;

/// <summary>
/// DNS-rebinding defence: a browser page on evil.example whose name resolves to 127.0.0.1 still sends
/// "Host: evil.example", so only loopback names (and configured extras) are answered. Cross-site requests too: any page
/// may POST a JSON body as text/plain (a "simple" request, sent without a CORS preflight) to http://127.0.0.1:8080 with
/// the right Host, and the gateway reads any content type as JSON, so a request whose Origin is not one of those names
/// (or is "null": sandboxed frames, file: pages) is refused. API clients send no Origin.
/// </summary>
internal sealed partial class HostFilterMiddleware(RequestDelegate next, HostAllowList allowList, ILogger<HostFilterMiddleware> logger)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (!allowList.IsAllowed(context.Request.Host.Host))
        {
            Log.HostRejected(logger);
            return ApiErrors.HostNotAllowed().ExecuteAsync(context);
        }

        if (context.Request.Headers.Origin is { Count: > 0 } origin && !IsAllowedOrigin(origin.ToString()))
        {
            Log.OriginRejected(logger);
            return ApiErrors.OriginNotAllowed().ExecuteAsync(context);
        }

        return next(context);
    }

    private bool IsAllowedOrigin(string origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && allowList.IsAllowed(uri.Host);

    private static partial class Log
    {
        // The Host value is attacker-chosen: not logged.
        [LoggerMessage(EventId = 1200, Level = LogLevel.Warning, Message = "Rejected a request whose Host header is not a loopback name or an allowed host")]
        public static partial void HostRejected(ILogger logger);

        // Likewise the Origin value.
        [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Rejected a request from a web page whose Origin is not a loopback name or an allowed host")]
        public static partial void OriginRejected(ILogger logger);
    }
}

/// <summary>Which Host header values the gateway answers: loopback names always, plus <see cref="GatewayOptions.AllowedHosts"/>.</summary>
internal sealed class HostAllowList
{
    private readonly HashSet<string> _extra;
    private readonly bool _any;

    public HostAllowList(GatewayOptions options)
    {
        _extra = new HashSet<string>(options.AllowedHosts.Select(Normalize), StringComparer.OrdinalIgnoreCase);
        // A specific non-loopback address given to --host was chosen on purpose: answer to it too.
        if (IPAddress.TryParse(options.Host, out var bound) && !bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any))
        {
            _extra.Add(Normalize(options.Host));
        }

        _any = _extra.Contains("*");
    }

    /// <param name="host">The Host header without its port (IPv6 in brackets).</param>
    public bool IsAllowed(string? host)
    {
        if (_any)
        {
            return true;
        }

        if (string.IsNullOrEmpty(host))
        {
            return false;
        }

        var name = Normalize(host);
        return IsLoopbackName(name) || _extra.Contains(name);
    }

    /// <summary>localhost, *.localhost (RFC 6761), 127.0.0.0/8, ::1 and ::ffff:127.x.</summary>
    public static bool IsLoopbackName(string name)
    {
        name = Normalize(name);
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!IPAddress.TryParse(name, out var address))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return IPAddress.IsLoopback(address);
    }

    private static string Normalize(string host)
    {
        host = host.Trim();
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        return host.TrimEnd('.');
    }
}
