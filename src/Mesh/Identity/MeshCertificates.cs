using System.Security.Cryptography.X509Certificates;
using InferenceMesh.Mesh.Configuration;

namespace InferenceMesh.Mesh.Identity;

/// <summary>This node's current TLS certificate: created on start, replaced once half its validity has passed. Thread-safe.</summary>
public sealed class MeshCertificates(NodeIdentity identity, MeshOptions options, TimeProvider time) : IDisposable
{
    private readonly object _gate = new();
    private X509Certificate2? _current;

    public X509Certificate2 Current
    {
        get
        {
            lock (_gate)
            {
                var now = time.GetUtcNow();
                if (_current is null || now > _current.NotBefore.ToUniversalTime().AddMinutes(5).Add(options.CertificateValidity / 2))
                {
                    // The old one is not disposed: a handshake in flight may still hold it.
                    _current = NodeCertificate.Create(identity, now, options.CertificateValidity);
                }

                return _current;
            }
        }
    }

    public void Dispose() => _current?.Dispose();
}
