using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Transport;

namespace InferenceMesh.Mesh.Capabilities;

/// <summary>Why an advert could not be fetched (expected failures as values).</summary>
public enum AdvertFetchError
{
    None,
    Refused,
    Timeout,
    TlsFailed,
    IdMismatch,
    BadStatus,
    Malformed,
}

/// <summary>
/// Fetches peers' adverts over mutual TLS: presents this node's certificate, and accepts the server only when
/// its key hashes to the node id serf named (<see cref="PeerCertificateCheck"/>). One invoker per peer.
/// </summary>
public sealed class AdvertClient(PeerConnections connections, TimeProvider time)
{
    public async Task<(CapabilityAdvert? Advert, AdvertFetchError Error)> FetchAsync(NodeId expected, string httpsEndpoint, CancellationToken cancellationToken)
    {
        var invoker = connections.For(expected);
        using var timeout = new CancellationTokenSource(MeshDefaults.AdvertTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"https://{httpsEndpoint}/mesh/v1/capabilities") { Version = HttpVersion.Version11 };
            using var response = await invoker.SendAsync(request, linked.Token).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return (null, AdvertFetchError.BadStatus);
            }

            var bytes = await response.Content.ReadAsByteArrayAsync(linked.Token).ConfigureAwait(false);
            var advert = JsonSerializer.Deserialize(bytes, MeshJsonContext.Default.CapabilityAdvert);
            if (advert is null || !NodeId.TryParse(advert.NodeId, out var advertised) || !advertised.Equals(expected))
            {
                return (null, AdvertFetchError.Malformed);
            }

            return (advert, AdvertFetchError.None);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return (null, AdvertFetchError.Timeout);
        }
        catch (HttpRequestException ex) when (ex.InnerException is SocketException)
        {
            return (null, AdvertFetchError.Refused);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.SecureConnectionError)
        {
            return (null, connections.TakeMismatch(expected) ? AdvertFetchError.IdMismatch : AdvertFetchError.TlsFailed);
        }
        catch (HttpRequestException)
        {
            return (null, AdvertFetchError.TlsFailed);
        }
        catch (JsonException)
        {
            return (null, AdvertFetchError.Malformed);
        }
    }

    /// <summary>Drops a peer's connections (reaped or left).</summary>
    public void Forget(NodeId id) => connections.Forget(id);
}
