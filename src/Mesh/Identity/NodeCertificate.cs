using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace InferenceMesh.Mesh.Identity;

/// <summary>
/// Self-signed X.509 certificates bound to the node key: subject CN = node id, short validity, server and
/// client authentication. Peers never trust a CA: they hash the certificate's public key and compare it with
/// the node id they expect (<see cref="PeerCertificateCheck"/>).
/// </summary>
public static class NodeCertificate
{
    /// <summary>Creates a certificate valid from a few minutes ago (clock skew) for <paramref name="validity"/>.</summary>
    public static X509Certificate2 Create(NodeIdentity identity, DateTimeOffset now, TimeSpan validity)
    {
        var request = new CertificateRequest($"CN={identity.Id}, O=Inference Mesh node", identity.Key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F;
        using var ephemeral = request.Create(request.SubjectName, X509SignatureGenerator.CreateForECDsa(identity.Key), now.AddMinutes(-5), now.Add(validity), serial);
        using var withKey = ephemeral.CopyWithPrivateKey(identity.Key);
        // Round-trip through PKCS#12 so that every TLS backend gets a certificate with a usable private key.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}

/// <summary>Why a peer's certificate was refused; <see cref="None"/> when accepted.</summary>
public enum PeerCertificateError
{
    None,
    Missing,
    NotYetValid,
    Expired,
    WrongKeyType,
    IdMismatch,
    NotAdmitted,
}

/// <summary>The checks every mesh TLS handshake makes on the other side's certificate.</summary>
public static class PeerCertificateCheck
{
    /// <summary>Validity window and key type; then, when given, that the key hashes to <paramref name="expected"/>.</summary>
    public static PeerCertificateError Check(X509Certificate2? certificate, DateTimeOffset now, NodeId? expected, out NodeId id)
    {
        id = default;
        if (certificate is null)
        {
            return PeerCertificateError.Missing;
        }

        if (now < certificate.NotBefore.ToUniversalTime())
        {
            return PeerCertificateError.NotYetValid;
        }

        if (now > certificate.NotAfter.ToUniversalTime())
        {
            return PeerCertificateError.Expired;
        }

        using (var key = certificate.GetECDsaPublicKey())
        {
            if (key is null || key.KeySize != 256)
            {
                return PeerCertificateError.WrongKeyType;
            }
        }

        id = NodeId.FromCertificate(certificate);
        return expected is { } want && !want.Equals(id) ? PeerCertificateError.IdMismatch : PeerCertificateError.None;
    }
}
