using System.Net;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Listener;
using InferenceMesh.Mesh.Transport;
using InferenceMesh.Mesh.Trust;
using InferenceMesh.Tests;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.Mesh.Tests.Listener;

/// <summary>Real Kestrel mTLS listener on 127.0.0.1:0 and the real advert client.</summary>
public sealed class MutualTlsTests
{
    private sealed class OneModel(string path) : ILocalCapabilitySource
    {
        public IReadOnlyList<LocalModelFile> GetModels() =>
            [new("stories", path, new FileInfo(path).Length, File.GetLastWriteTimeUtc(path), "F32", 128)];

        public AdvertisedLoad GetLoad() => new() { ActiveSequences = 1, QueuedSequences = 2, Slots = 4 };
    }

    private sealed record Node(NodeIdentity Identity, MeshOptions Options, MeshCertificates Certificates) : IDisposable
    {
        public void Dispose()
        {
            Certificates.Dispose();
            Identity.Dispose();
        }
    }

    private static Node NewNode(string dir, string name)
    {
        var identity = NodeIdentity.LoadOrCreate(Path.Combine(dir, name + ".key"));
        var options = new MeshOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0), DataDirectory = dir, PricePerMillionTokens = 0.5m, Jurisdiction = "EU" };
        return new Node(identity, options, new MeshCertificates(identity, options, TimeProvider.System));
    }

    private static async Task<MeshListener> StartListenerAsync(Node server, TrustPolicy trust, ModelDigestCache digests)
    {
        var builder = new LocalAdvertBuilder(new OneModel(TestPaths.Stories260K), digests, server.Options, server.Identity, TimeProvider.System);
        var listener = new MeshListener(server.Options, server.Certificates, trust, builder, TimeProvider.System, NullLogger<MeshListener>.Instance);
        await listener.StartAsync(CancellationToken.None);
        return listener;
    }

    [Fact]
    public async Task Listed_peer_gets_the_advert_unlisted_peer_is_refused_and_a_wrong_id_is_refused()
    {
        var dir = TestPaths.NewTempDir("im-mesh-tls");
        using var server = NewNode(dir, "server");
        using var listed = NewNode(dir, "listed");
        using var stranger = NewNode(dir, "stranger");
        var digests = new ModelDigestCache();
        await using var listener = await StartListenerAsync(server, new TrustPolicy(MeshAdmission.Listed, [new TrustEntry(listed.Identity.Id, TrustLevel.Community)]), digests);
        var endpoint = listener.BoundEndpoint!.ToString();

        using (var connections = new PeerConnections(listed.Certificates, TimeProvider.System))
        {
            var client = new AdvertClient(connections, TimeProvider.System);
            var (advert, error) = await client.FetchAsync(server.Identity.Id, endpoint, CancellationToken.None);
            Assert.Equal(AdvertFetchError.None, error);
            Assert.Equal(server.Identity.Id.ToString(), advert!.NodeId);
            var model = Assert.Single(advert.Models);
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(TestPaths.Stories260K))), model.Sha256);
            Assert.Equal("EU", advert.Jurisdiction);
            Assert.Equal(2, advert.Load.QueuedSequences);

            // Digest computed once, reused while size and mtime stay the same.
            _ = await client.FetchAsync(server.Identity.Id, endpoint, CancellationToken.None);
            Assert.Equal(1, digests.Computations);

            // The server's key does not hash to the id we expect: refused by the client.
            var (_, mismatch) = await client.FetchAsync(stranger.Identity.Id, endpoint, CancellationToken.None);
            Assert.Equal(AdvertFetchError.IdMismatch, mismatch);
        }

        // A valid self-signed certificate whose id is not listed: the server refuses the handshake.
        using (var connections = new PeerConnections(stranger.Certificates, TimeProvider.System))
        {
            var client = new AdvertClient(connections, TimeProvider.System);
            var (advert, error) = await client.FetchAsync(server.Identity.Id, endpoint, CancellationToken.None);
            Assert.Null(advert);
            Assert.Equal(AdvertFetchError.TlsFailed, error);
        }

        await listener.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Open_admission_admits_an_unlisted_id_at_level_open()
    {
        var dir = TestPaths.NewTempDir("im-mesh-tls");
        using var server = NewNode(dir, "server");
        using var stranger = NewNode(dir, "stranger");
        var trust = new TrustPolicy(MeshAdmission.Open, []);
        Assert.Equal(TrustLevel.Open, trust.Resolve(stranger.Identity.Id));
        await using var listener = await StartListenerAsync(server, trust, new ModelDigestCache());
        using var connections = new PeerConnections(stranger.Certificates, TimeProvider.System);
        var client = new AdvertClient(connections, TimeProvider.System);
        var (_, error) = await client.FetchAsync(server.Identity.Id, listener.BoundEndpoint!.ToString(), CancellationToken.None);
        Assert.Equal(AdvertFetchError.None, error);
        await listener.StopAsync(CancellationToken.None);
    }
}
