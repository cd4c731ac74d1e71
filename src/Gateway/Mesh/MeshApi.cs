using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Membership;

namespace InferenceMesh.Gateway.Mesh;

/// <summary><c>GET /v1/mesh/peers</c>: known peers with state, trust, addresses and advertised models (local API only).</summary>
internal static class MeshApi
{
    public static IEndpointRouteBuilder MapMeshApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/mesh/peers", GetPeers);
        return app;
    }

    internal static JsonOk<MeshPeersWire> GetPeers(IPeerDirectory directory) => new(new MeshPeersWire
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
        })],
    }, MeshJsonWireContext.Default.MeshPeersWire);
}
