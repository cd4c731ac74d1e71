using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;

namespace InferenceMesh.Mesh.Transport;

/// <summary>
/// The HTTP clients this node uses to talk to peers: one <see cref="HttpMessageInvoker"/> per peer over a tuned
/// <see cref="SocketsHttpHandler"/> (no proxy, redirects, cookies or decompression) that presents this node's
/// certificate and accepts the server only when its key hashes to the node id expected
/// (<see cref="PeerCertificateCheck"/>). Used for adverts and for forwarded chat requests. Thread-safe.
/// </summary>
public sealed class PeerConnections(MeshCertificates certificates, TimeProvider time) : IDisposable
{
    private readonly ConcurrentDictionary<NodeId, HttpMessageInvoker> _invokers = new();
    private readonly ConcurrentDictionary<NodeId, bool> _mismatches = new();

    /// <summary>The invoker for <paramref name="expected"/> (created on first use, then reused).</summary>
    public HttpMessageInvoker For(NodeId expected) => _invokers.GetOrAdd(expected, Create);

    /// <summary>Whether the last failed handshake with <paramref name="expected"/> was a certificate whose key did not match its id (read once).</summary>
    public bool TakeMismatch(NodeId expected) => _mismatches.TryRemove(expected, out var seen) && seen;

    /// <summary>Drops a peer's connections (reaped or left).</summary>
    public void Forget(NodeId id)
    {
        if (_invokers.TryRemove(id, out var invoker))
        {
            invoker.Dispose();
        }
    }

    private HttpMessageInvoker Create(NodeId expected)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = MeshDefaults.AdvertTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            ActivityHeadersPropagator = null,
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

    public void Dispose()
    {
        foreach (var invoker in _invokers.Values)
        {
            invoker.Dispose();
        }
    }
}
