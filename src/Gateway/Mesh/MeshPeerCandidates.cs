using InferenceMesh.Mesh.Membership;
using InferenceMesh.Mesh.Reputation;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Gateway.Mesh;

/// <summary>
/// The router's peers, read live from the mesh's directory on every call: alive peers that this node admits
/// (trusted, community, or open under open admission — never a refused or unlisted id), with an advert and an
/// HTTPS endpoint. Reputation comes from verification and receipts.
/// </summary>
internal sealed class MeshPeerCandidates(IPeerDirectory directory, PeerReputation reputation) : IPeerCandidateSource
{
    public IReadOnlyList<PeerCandidate> Current => [.. directory.Peers.Select(ToCandidate).OfType<PeerCandidate>()];

    public PeerCandidate? Find(string backend) =>
        directory.Peers.Select(ToCandidate).FirstOrDefault(c => c is not null && string.Equals(c.Backend, backend, StringComparison.OrdinalIgnoreCase));

    private PeerCandidate? ToCandidate(PeerInfo peer)
    {
        PeerTrust? trust = peer.Trust switch
        {
            "trusted" => PeerTrust.Trusted,
            "community" => PeerTrust.Community,
            "open" => PeerTrust.Open,
            _ => null, // refused: never a candidate
        };
        if (trust is null || peer.State != "alive" || peer.Advert is not { } advert || peer.HttpsEndpoint is not { } endpoint)
        {
            return null;
        }

        var id = peer.Id.ToString();
        return new PeerCandidate
        {
            NodeId = id,
            Backend = PeerCandidate.BackendName(id),
            Trust = trust.Value,
            BaseUrl = new Uri($"https://{endpoint}/mesh/v1"),
            Models = [.. advert.Models.Select(m => new PeerModel(m.Name, m.Sha256))],
            ActiveSequences = advert.Load.ActiveSequences,
            QueuedSequences = advert.Load.QueuedSequences,
            Slots = advert.Load.Slots,
            Reputation = reputation.ScoreOf(peer.Id),
            Jurisdiction = advert.Jurisdiction,
            PricePerMillionTokens = (double)advert.PricePerMillionTokens,
        };
    }
}
