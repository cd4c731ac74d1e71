using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;

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
public sealed class AdvertClient(MeshCertificates certificates, TimeProvider time) : IDisposable
{
    private readonly ConcurrentDictionary<(NodeId, string), HttpMessageInvoker> _invokers = new();

    public async Task<(CapabilityAdvert? Advert, AdvertFetchError Error)> FetchAsync(NodeId expected, string httpsEndpoint, CancellationToken cancellationToken)
    {
        var invoker = _invokers.GetOrAdd((expected, httpsEndpoint), key => CreateInvoker(key.Item1));
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
            return (null, MismatchSeen(expected) ? AdvertFetchError.IdMismatch : AdvertFetchError.TlsFailed);
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

    private readonly ConcurrentDictionary<NodeId, bool> _mismatches = new();

    private bool MismatchSeen(NodeId expected) => _mismatches.TryRemove(expected, out var seen) && seen;

    private HttpMessageInvoker CreateInvoker(NodeId expected)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = MeshDefaults.AdvertTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            SslOptions = new SslClientAuthenticationOptions
            {
                TargetHost = "inference-mesh-peer",
                LocalCertificateSelectionCallback = (_, _, _, _, _) => certificates.Current,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    using var cert = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    var error = PeerCertificateCheck.Check(cert, time.GetUtcNow(), expected, out _);
                    if (error == PeerCertificateError.IdMismatch)
                    {
                        _mismatches[expected] = true;
                    }

                    return error == PeerCertificateError.None;
                },
            },
        };
        return new HttpMessageInvoker(handler, disposeHandler: true);
    }

    /// <summary>Drops a peer's connections (reaped or left).</summary>
    public void Forget(NodeId id)
    {
        foreach (var key in _invokers.Keys.Where(k => k.Item1.Equals(id)))
        {
            if (_invokers.TryRemove(key, out var invoker))
            {
                invoker.Dispose();
            }
        }
    }

    public void Dispose()
    {
        foreach (var invoker in _invokers.Values)
        {
            invoker.Dispose();
        }
    }
}
