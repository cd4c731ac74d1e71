using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Membership;
using InferenceMesh.Mesh.Reputation;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Gateway.Mesh;

/// <summary><c>GET /v1/mesh/peers</c>: known peers with state, trust, addresses and advertised models (local API only).</summary>
internal static class MeshApi
{
    public static IEndpointRouteBuilder MapMeshApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/mesh/peers", (IPeerDirectory directory, IServiceProvider services) => GetPeers(directory, services.GetService<PeerReputation>()));
        return app;
    }

    internal static JsonOk<MeshPeersWire> GetPeers(IPeerDirectory directory, PeerReputation? reputation) => new(new MeshPeersWire
    {
        Enabled = directory.Enabled,
        Self = directory.Self?.ToString(),
        Peers = [.. directory.Peers.Select(p => new MeshPeerWire
        {
            Id = p.Id.ToString(),
            State = p.State,
            Trust = p.Trust,
            Gossip = p.GossipAddress,
            Https = p.HttpsEndpoint,
            Models = p.Advert?.Models ?? [],
            Load = p.Advert?.Load,
            PricePerMillionTokens = p.Advert?.PricePerMillionTokens,
            Jurisdiction = p.Advert?.Jurisdiction,
            AdvertAt = p.AdvertAt,
            AdvertError = p.LastAdvertError == AdvertFetchError.None ? null : p.LastAdvertError.ToString(),
            Backend = PeerCandidate.BackendName(p.Id.ToString()),
            Reputation = reputation is null ? null : MeshReputationWire.From(reputation.Get(p.Id)),
        })],
    }, MeshJsonWireContext.Default.MeshPeersWire);
}

/// <summary>The mesh section of <c>/health</c>: peer requests served, verification, and each peer's reputation; null when the mesh is off.</summary>
internal static class MeshHealth
{
    public static MeshHealthWire? Build(IServiceProvider services)
    {
        var directory = services.GetRequiredService<IPeerDirectory>();
        if (!directory.Enabled || services.GetService<PeerReputation>() is not { } reputation)
        {
            return null;
        }

        var stats = services.GetRequiredService<InferenceMesh.Mesh.Serving.PeerServingStats>();
        var verifier = services.GetService<PeerVerifier>();
        var options = services.GetRequiredService<InferenceMesh.Mesh.Configuration.MeshOptions>();
        var peers = directory.Peers;
        return new MeshHealthWire
        {
            Self = directory.Self?.ToString() ?? string.Empty,
            PeersAlive = peers.Count(p => p.State == "alive"),
            Served = new MeshServedWire(stats.Received, stats.Served, stats.Refused, stats.QuotaExceeded),
            Verification = new MeshVerificationWire(options.VerifyShare, verifier?.Running ?? 0, verifier?.Unverifiable ?? 0),
            Peers = [.. peers.Select(p => new MeshPeerHealthWire(
                p.Id.ToString(), PeerCandidate.BackendName(p.Id.ToString()), p.State, MeshReputationWire.From(reputation.Get(p.Id))))],
        };
    }
}
