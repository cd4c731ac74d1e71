using InferenceMesh.Classifier;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Routing;
using InferenceMesh.Router.Tests.Common;
using static InferenceMesh.Router.Tests.Common.RouterTestEnvironment;

namespace InferenceMesh.Router.Tests.Routing;

public sealed class RoutingPrivacyTests : IDisposable
{
    private readonly RouterTestEnvironment _env = new();

    public RoutingPrivacyTests()
    {
        _env.WriteConfig(AcceptanceConfig);
        _env.CopyRepoDefaultPolicy();
    }

    public void Dispose() => _env.Dispose();

    [Fact]
    public void Public_auto_request_prefers_cloud_a_and_ends_at_local()
    {
        var plan = _env.Route(_env.Load(), new RouteRequest { Model = "auto", Classification = Classified(PrivacyLevel.Public) });

        Assert.Equal(["cloud-a", "local"], plan.Steps.Select(s => s.Backend));
        Assert.Equal(PrivacyLevel.Public, plan.Privacy.Level);
        // 0.5*0.95 + 0.15*(1 - 1/30) + 0.15*(1 - 1000/10000) + 0.2*0.2 = 0.795
        Assert.Equal(0.795, plan.Steps[0].Score, 3);
        // 0.5*0.5 + 0.15*1 + 0.15*(1 - 2000/10000) + 0.2*1.0 = 0.72
        Assert.Equal(0.72, plan.Steps[1].Score, 3);
        Assert.Equal("auto", plan.Steps[0].UpstreamModel);
        Assert.Equal("tiny-local", plan.Steps[1].UpstreamModel);
    }

    [Fact]
    public void Built_in_policy_gives_the_same_plan_as_the_repository_default()
    {
        File.Delete(Path.Combine(_env.PoliciesDirectory, "default.yaml"));
        var snapshot = _env.Load();
        var plan = _env.Route(snapshot, new RouteRequest { Classification = Classified(PrivacyLevel.Public) });

        Assert.Equal(Router.Policies.PolicyLoader.BuiltInSource, snapshot.Policy.SourceFile);
        Assert.Equal(["cloud-a", "local"], plan.Steps.Select(s => s.Backend));
    }

    [Theory]
    [InlineData(PrivacyLevel.Confidential)]
    [InlineData(PrivacyLevel.Restricted)]
    public void Confidential_and_restricted_stay_local(PrivacyLevel level)
    {
        var plan = _env.Route(_env.Load(), new RouteRequest { Classification = Classified(level) });

        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
        var exclusion = Assert.Single(plan.Exclusions);
        Assert.Equal(("cloud-a", ExclusionCode.PrivacyClass), (exclusion.Backend, exclusion.Code));
        Assert.Contains("may go to [local] only", exclusion.Reason);
    }

    [Fact]
    public void Unsure_public_classification_stays_local()
    {
        var plan = _env.Route(_env.Load(), new RouteRequest { Classification = Classified(PrivacyLevel.Public, unsure: true) });

        Assert.Equal(PrivacyLevel.Confidential, plan.Privacy.Level);
        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
    }

    [Fact]
    public void Missing_classification_is_confidential()
    {
        var plan = _env.Route(_env.Load(), new RouteRequest { Classification = null });

        Assert.Equal(PrivacyLevel.Confidential, plan.Privacy.Level);
        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
    }

    [Fact]
    public void Confidential_with_no_local_model_gives_an_empty_plan_with_a_reason()
    {
        _env.LocalModels = StaticLocalModelDirectory.Empty;
        var plan = _env.Route(_env.Load(), new RouteRequest { Classification = Classified(PrivacyLevel.Confidential) });

        Assert.True(plan.IsEmpty);
        Assert.Contains("no backend allowed for confidential requests", plan.EmptyReason);
        Assert.Contains(plan.Exclusions, e => e.Code == ExclusionCode.NoLocalModel);
        Assert.Contains(plan.Exclusions, e => e is { Backend: "cloud-a", Code: ExclusionCode.PrivacyClass });
    }

    [Fact]
    public void Alias_routes_a_cloud_model_name_to_local_for_a_confidential_request()
    {
        _env.WritePolicy(File.ReadAllText(Path.Combine(InferenceMesh.Tests.TestPaths.RepoRoot, "policies", "default.yaml"))
            .Replace("aliases: {}", "aliases:\n  gpt-4o-mini:\n    local: tiny-local"));
        var snapshot = _env.Load();

        var confidential = _env.Route(snapshot, new RouteRequest { Model = "gpt-4o-mini", Classification = Classified(PrivacyLevel.Confidential) });
        var step = Assert.Single(confidential.Steps);
        Assert.Equal(("local", "tiny-local", true), (step.Backend, step.UpstreamModel, step.ViaAlias));

        // Public: the cloud offers the name itself and scores higher; local stays the floor.
        var pub = _env.Route(snapshot, new RouteRequest { Model = "GPT-4o-mini", Classification = Classified(PrivacyLevel.Public) });
        Assert.Equal([("cloud-a", "GPT-4o-mini"), ("local", "tiny-local")], pub.Steps.Select(s => (s.Backend, s.UpstreamModel)));
    }

    [Fact]
    public void Named_model_without_alias_cannot_be_served_confidentially()
    {
        var plan = _env.Route(_env.Load(), new RouteRequest { Model = "gpt-4o-mini", Classification = Classified(PrivacyLevel.Confidential) });

        Assert.True(plan.IsEmpty);
        Assert.Contains(plan.Exclusions, e => e is { Backend: "local", Code: ExclusionCode.ModelNotOffered });
    }

    [Fact]
    public void Local_model_name_is_served_locally_and_by_wildcard_clouds_only_when_allowed()
    {
        var plan = _env.Route(_env.Load(), new RouteRequest { Model = "tiny-local", Classification = Classified(PrivacyLevel.Internal) });

        // Internal: cloud-a does not declare retainsData: false, so it is assumed to retain data.
        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
        Assert.Contains(plan.Exclusions, e => e is { Backend: "cloud-a", Code: ExclusionCode.DataRetention });
    }

    [Fact]
    public void Header_raises_the_level()
    {
        var plan = _env.Route(_env.Load(), new RouteRequest
        {
            Classification = Classified(PrivacyLevel.Public),
            CallerPrivacy = PrivacyLevel.Restricted,
        });

        Assert.Equal(PrivacyLevel.Restricted, plan.Privacy.Level);
        Assert.Equal(PrivacyLevel.Public, plan.Privacy.ClassifiedLevel);
        Assert.False(plan.Privacy.CallerLoweringRefused);
        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
    }

    [Fact]
    public void Header_lowering_is_refused_by_default()
    {
        var plan = _env.Route(_env.Load(), new RouteRequest
        {
            Classification = Classified(PrivacyLevel.Confidential, detectors: PrivacyLevel.Public),
            CallerPrivacy = PrivacyLevel.Public,
        });

        Assert.Equal(PrivacyLevel.Confidential, plan.Privacy.Level);
        Assert.True(plan.Privacy.CallerLoweringRefused);
        Assert.Contains(plan.Privacy.Reasons, r => r.Contains("does not allow callers to lower", StringComparison.Ordinal));
        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
    }

    [Fact]
    public void Header_lowering_is_refused_without_a_classification()
    {
        var plan = _env.Route(_env.Load(), new RouteRequest { Classification = null, CallerPrivacy = PrivacyLevel.Public });

        Assert.Equal(PrivacyLevel.Confidential, plan.Privacy.Level);
        Assert.True(plan.Privacy.CallerLoweringRefused);
    }

    [Fact]
    public void Header_lowering_when_policy_allows_it_stops_at_the_detectors_level()
    {
        _env.WritePolicy(File.ReadAllText(Path.Combine(InferenceMesh.Tests.TestPaths.RepoRoot, "policies", "default.yaml"))
            .Replace("allowCallerLowering: false", "allowCallerLowering: true"));
        var snapshot = _env.Load();

        var toPublic = _env.Route(snapshot, new RouteRequest
        {
            Classification = Classified(PrivacyLevel.Confidential, detectors: PrivacyLevel.Public),
            CallerPrivacy = PrivacyLevel.Public,
        });
        Assert.Equal(PrivacyLevel.Public, toPublic.Privacy.Level);
        Assert.False(toPublic.Privacy.CallerLoweringRefused);
        Assert.Equal("cloud-a", toPublic.Steps[0].Backend);

        var floored = _env.Route(snapshot, new RouteRequest
        {
            Classification = Classified(PrivacyLevel.Restricted, detectors: PrivacyLevel.Confidential),
            CallerPrivacy = PrivacyLevel.Public,
        });
        Assert.Equal(PrivacyLevel.Confidential, floored.Privacy.Level);
        Assert.True(floored.Privacy.CallerLoweringRefused);
        Assert.Equal(["local"], floored.Steps.Select(s => s.Backend));
    }

    [Fact]
    public void Internal_allows_clouds_that_do_not_retain_data_within_listed_jurisdictions()
    {
        _env.WriteConfig("""
            backends:
              - name: eu-cloud
                type: anthropic
                baseUrl: https://127.0.0.1:9102/v1
                quality: 0.95
                retainsData: false
                jurisdiction: EU
              - name: us-cloud
                type: openai
                baseUrl: https://127.0.0.1:9103/v1
                quality: 0.95
                retainsData: false
                jurisdiction: US
            """);
        _env.WritePolicy(File.ReadAllText(Path.Combine(InferenceMesh.Tests.TestPaths.RepoRoot, "policies", "default.yaml"))
            .Replace("""
                    peers: trusted
                    jurisdictions: ["*"]
                """, """
                    peers: trusted
                    jurisdictions: [EU]
                """));

        var plan = _env.Route(_env.Load(), new RouteRequest { Classification = Classified(PrivacyLevel.Internal) });

        Assert.Equal(["eu-cloud", "local"], plan.Steps.Select(s => s.Backend));
        Assert.Contains(plan.Exclusions, e => e is { Backend: "us-cloud", Code: ExclusionCode.Jurisdiction });
    }

    [Fact]
    public void Untrusted_peer_is_excluded_for_internal_requests()
    {
        _env.WriteConfig("""
            backends:
              - name: peer-a
                type: peer
                baseUrl: https://127.0.0.1:9104/v1
                retainsData: false
              - name: peer-b
                type: peer
                baseUrl: https://127.0.0.1:9105/v1
                retainsData: false
                trusted: true
                quality: 0.9
            """);

        var plan = _env.Route(_env.Load(), new RouteRequest { Classification = Classified(PrivacyLevel.Internal) });

        Assert.Contains(plan.Exclusions, e => e is { Backend: "peer-a", Code: ExclusionCode.UntrustedPeer });
        Assert.Equal("local", plan.Steps[^1].Backend);
        Assert.Contains(plan.Steps, s => s.Backend == "peer-b");
    }
}
