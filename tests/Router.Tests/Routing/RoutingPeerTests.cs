using InferenceMesh.Classifier;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Health;
using InferenceMesh.Router.Policies;
using InferenceMesh.Router.Routing;
using InferenceMesh.Router.Tests.Common;
using static InferenceMesh.Router.Tests.Common.RouterTestEnvironment;

namespace InferenceMesh.Router.Tests.Routing;

/// <summary>Live mesh peers as plan steps: trust per privacy level, model match by name and digest, load, reputation, failover order.</summary>
public sealed class RoutingPeerTests : IDisposable
{
    private const string Digest = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
    private const string OtherDigest = "1111111111111111111111111111111111111111111111111111111111111111";
    private readonly RouterTestEnvironment _env = new();

    public RoutingPeerTests()
    {
        _env.CopyRepoDefaultPolicy();
    }

    public void Dispose() => _env.Dispose();

    private static PeerCandidate Peer(string id, PeerTrust trust, string model = "remote-model", string digest = Digest, double reputation = 1, int active = 0, int queued = 0, int slots = 4) => new()
    {
        NodeId = id,
        Backend = PeerCandidate.BackendName(id),
        Trust = trust,
        BaseUrl = new Uri($"https://127.0.0.9:7443/mesh/v1"),
        Models = [new PeerModel(model, digest)],
        ActiveSequences = active,
        QueuedSequences = queued,
        Slots = slots,
        Reputation = reputation,
    };

    private RoutePlan Route(string model, PrivacyLevel level, params PeerCandidate[] peers) =>
        BackendRouter.Plan(_env.Load(withConfig: false), _env.NewHealth(), _env.LocalModels, _env.Keys,
            new RouteRequest { Model = model, Classification = Classified(level) }, peers);

    [Fact]
    public void A_model_only_a_peer_has_is_served_by_that_peer()
    {
        var plan = Route("remote-model", PrivacyLevel.Public, Peer("AAAAAAA-AAAAAAA-1", PeerTrust.Community));

        var step = Assert.Single(plan.Steps);
        Assert.Equal(("peer-AAAAAAA-AAAAAAA", BackendKind.Peer, "remote-model"), (step.Backend, step.Kind, step.UpstreamModel));
        Assert.Equal("AAAAAAA-AAAAAAA-1", step.Config!.PeerNodeId);
        Assert.Equal(new Uri("https://127.0.0.9:7443/mesh/v1"), step.Config.BaseUrl);
        // 0.5*0.5 + 0.15*1 + 0.15*(1 - 1500/10000) + 0.2*0.6 = 0.6475; x load 1 x reputation 1 x name match 0.9
        Assert.Equal(0.6475 * 0.9, step.Score, 4);
        Assert.Equal(0.9, step.Breakdown.Peer!.ModelMatch);
        Assert.Contains(plan.Exclusions, e => e is { Backend: "local", Code: ExclusionCode.ModelNotOffered });
    }

    [Theory]
    [InlineData(PrivacyLevel.Confidential)]
    [InlineData(PrivacyLevel.Restricted)]
    public void Confidential_and_restricted_never_go_to_a_peer_even_a_trusted_one(PrivacyLevel level)
    {
        var plan = Route("remote-model", level, Peer("TTTTTTT-TTTTTTT-1", PeerTrust.Trusted));

        Assert.True(plan.IsEmpty);
        var exclusion = Assert.Single(plan.Exclusions, e => e.Backend == "peer-TTTTTTT-TTTTTTT");
        Assert.Equal(ExclusionCode.PrivacyClass, exclusion.Code);
    }

    [Fact]
    public void Internal_goes_to_trusted_peers_only()
    {
        var plan = Route("remote-model", PrivacyLevel.Internal, Peer("CCCCCCC-CCCCCCC-1", PeerTrust.Community), Peer("TTTTTTT-TTTTTTT-1", PeerTrust.Trusted), Peer("OOOOOOO-OOOOOOO-1", PeerTrust.Open));

        Assert.Equal(["peer-TTTTTTT-TTTTTTT"], plan.Steps.Select(s => s.Backend));
        var community = Assert.Single(plan.Exclusions, e => e.Backend == "peer-CCCCCCC-CCCCCCC");
        Assert.Equal(ExclusionCode.UntrustedPeer, community.Code);
        Assert.Contains("may go to [trusted] peers only; this peer is community", community.Reason);
        Assert.Contains(plan.Exclusions, e => e is { Backend: "peer-OOOOOOO-OOOOOOO", Code: ExclusionCode.UntrustedPeer });
    }

    [Fact]
    public void Public_goes_to_any_admitted_peer_and_a_policy_can_list_trust_levels()
    {
        var plan = Route("remote-model", PrivacyLevel.Public, Peer("CCCCCCC-CCCCCCC-1", PeerTrust.Community), Peer("OOOOOOO-OOOOOOO-1", PeerTrust.Open));
        Assert.Equal(2, plan.Steps.Count);

        _env.WritePolicy(File.ReadAllText(Path.Combine(InferenceMesh.Tests.TestPaths.RepoRoot, "policies", "default.yaml"))
            .Replace("    peers: any", "    peers: [trusted, community]"));
        var listed = Route("remote-model", PrivacyLevel.Public, Peer("CCCCCCC-CCCCCCC-1", PeerTrust.Community), Peer("OOOOOOO-OOOOOOO-1", PeerTrust.Open));
        Assert.Equal(["peer-CCCCCCC-CCCCCCC"], listed.Steps.Select(s => s.Backend));
        Assert.Contains(listed.Exclusions, e => e is { Backend: "peer-OOOOOOO-OOOOOOO", Code: ExclusionCode.UntrustedPeer });
    }

    [Fact]
    public void A_named_digest_must_match_and_scores_higher_than_a_name()
    {
        var right = Peer("RRRRRRR-RRRRRRR-1", PeerTrust.Community);
        var wrong = Peer("WWWWWWW-WWWWWWW-1", PeerTrust.Community, digest: OtherDigest);

        var byDigest = Route($"remote-model@sha256:{Digest}", PrivacyLevel.Public, wrong, right);
        var step = Assert.Single(byDigest.Steps);
        Assert.Equal(("peer-RRRRRRR-RRRRRRR", "remote-model", 1.0), (step.Backend, step.UpstreamModel, step.Breakdown.Peer!.ModelMatch));
        Assert.Contains(byDigest.Exclusions, e => e is { Backend: "peer-WWWWWWW-WWWWWWW", Code: ExclusionCode.ModelNotOffered });

        var digestOnly = Route($"sha256:{OtherDigest}", PrivacyLevel.Public, wrong, right);
        Assert.Equal(["peer-WWWWWWW-WWWWWWW"], digestOnly.Steps.Select(s => s.Backend));
    }

    [Fact]
    public void Auto_is_never_sent_to_a_peer()
    {
        var plan = Route("auto", PrivacyLevel.Public, Peer("CCCCCCC-CCCCCCC-1", PeerTrust.Community));

        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
        Assert.Contains(plan.Exclusions, e => e.Backend == "peer-CCCCCCC-CCCCCCC" && e.Reason.Contains("'auto' is not sent to peers"));
    }

    [Fact]
    public void Load_and_reputation_order_peers_and_low_reputation_excludes()
    {
        var idle = Peer("IIIIIII-IIIIIII-1", PeerTrust.Community);
        var busy = Peer("BBBBBBB-BBBBBBB-1", PeerTrust.Community, active: 4, queued: 4, slots: 4);
        var doubted = Peer("DDDDDDD-DDDDDDD-1", PeerTrust.Community, reputation: 0.5);
        var liar = Peer("LLLLLLL-LLLLLLL-1", PeerTrust.Community, reputation: 0.25);

        var plan = Route("remote-model", PrivacyLevel.Public, busy, doubted, liar, idle);

        Assert.Equal(["peer-IIIIIII-IIIIIII", "peer-DDDDDDD-DDDDDDD", "peer-BBBBBBB-BBBBBBB"], plan.Steps.Select(s => s.Backend));
        Assert.Equal(1.0 / 3, plan.Steps[2].Breakdown.Peer!.LoadFactor, 6); // load 2 → 1 / (1 + 2)
        var excluded = Assert.Single(plan.Exclusions, e => e.Backend == "peer-LLLLLLL-LLLLLLL");
        Assert.Equal(ExclusionCode.LowReputation, excluded.Code);
    }

    [Fact]
    public void Peers_fail_over_in_score_order_then_local_when_local_can_serve_via_alias()
    {
        _env.WritePolicy(File.ReadAllText(Path.Combine(InferenceMesh.Tests.TestPaths.RepoRoot, "policies", "default.yaml"))
            .Replace("aliases: {}", "aliases:\n  remote-model:\n    local: tiny-local")
            .Replace("backends: {}", "backends:\n  peer-AAAAAAA-AAAAAAA: { quality: 0.95 }\n  peer-BBBBBBB-BBBBBBB: { quality: 0.9 }"));

        var plan = Route("remote-model", PrivacyLevel.Public, Peer("BBBBBBB-BBBBBBB-1", PeerTrust.Community), Peer("AAAAAAA-AAAAAAA-1", PeerTrust.Community));

        Assert.Equal(["peer-AAAAAAA-AAAAAAA", "peer-BBBBBBB-BBBBBBB", "local"], plan.Steps.Select(s => s.Backend));
        Assert.Equal(0.95, plan.Steps[0].Breakdown.Quality);
        Assert.Empty(_env.Load(withConfig: false).Warnings); // policy names of peers are not "unknown backends"
    }

    [Fact]
    public void An_open_circuit_excludes_a_peer()
    {
        var health = _env.NewHealth();
        health.SetCircuit("peer-AAAAAAA-AAAAAAA", CircuitState.Open);
        var plan = BackendRouter.Plan(_env.Load(withConfig: false), health, _env.LocalModels, _env.Keys,
            new RouteRequest { Model = "remote-model", Classification = Classified(PrivacyLevel.Public) }, [Peer("AAAAAAA-AAAAAAA-1", PeerTrust.Trusted)]);

        Assert.True(plan.IsEmpty);
        Assert.Contains(plan.Exclusions, e => e is { Backend: "peer-AAAAAAA-AAAAAAA", Code: ExclusionCode.CircuitOpen });
    }
}
