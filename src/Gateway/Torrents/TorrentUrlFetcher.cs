using System.Net;
using System.Net.Sockets;
using InferenceMesh.ModelCache.Torrents;

namespace InferenceMesh.Gateway.Torrents;

/// <summary>
/// Fetches the .torrent of <c>POST /v1/models/pull</c> with a URL source. The gateway makes that request itself, so
/// the address it connects to is checked when it connects (after DNS, so a name cannot be re-pointed in between):
/// never a link-local address (169.254.0.0/16, fe80::/10: cloud metadata services and the like), and, for a caller
/// that is not on this machine, no loopback or private address either (what only this machine or its network can
/// reach). No proxy, no redirects, 30 s, 16 MiB at most.
/// </summary>
internal static class TorrentUrlFetcher
{
    private static readonly AsyncLocal<bool?> CallerIsLocal = new();

    private static readonly HttpClient Client = CreateClient(TimeSpan.FromSeconds(30));

    /// <summary>
    /// A client with the same rules: the caller's locality is the one <see cref="FetchAsync"/> set for this flow, and
    /// a flow that set none (a magnet's metadata fetched from its tracker's gateway by a pull job) counts as local, so
    /// only link-local addresses are refused there.
    /// </summary>
    public static HttpClient CreateClient(TimeSpan timeout) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        ConnectCallback = ConnectCheckedAsync,
    })
    {
        Timeout = timeout,
        MaxResponseContentBufferSize = TorrentMetainfo.MaxTorrentBytes,
    };

    /// <exception cref="HttpRequestException">Not fetched: refused address, connection, status or size; the message says which.</exception>
    public static async Task<byte[]> FetchAsync(Uri url, bool callerIsLocal, CancellationToken cancellationToken)
    {
        CallerIsLocal.Value = callerIsLocal;
        return await Client.GetByteArrayAsync(url, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether the gateway may connect to <paramref name="address"/> on behalf of a caller.</summary>
    internal static bool Allowed(IPAddress address, bool callerIsLocal)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IsLinkLocal(address))
        {
            return false;
        }

        return callerIsLocal || !(IPAddress.IsLoopback(address) || IsPrivate(address) || address.Equals(IPAddress.IPv6Any)); // 0.0.0.0/8 is in IsPrivate
    }

    private static bool IsLinkLocal(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork
        ? address.GetAddressBytes() is [169, 254, ..]
        : address.IsIPv6LinkLocal;

    private static bool IsPrivate(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return address.IsIPv6UniqueLocal || address.IsIPv6SiteLocal;
        }

        var b = address.GetAddressBytes();
        return b[0] == 10 || b[0] == 0 || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 100 && b[1] is >= 64 and <= 127);
    }

    private static async ValueTask<Stream> ConnectCheckedAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        var local = CallerIsLocal.Value ?? true;
        var allowed = Array.FindAll(addresses, a => Allowed(a, local));
        if (allowed.Length == 0)
        {
            throw new HttpRequestException(local
                ? $"'{host}' is a link-local address, which the gateway never fetches from"
                : $"'{host}' is a loopback, private or link-local address, which the gateway fetches from only for callers on this machine");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
