using InferenceMesh.Classifier;
using InferenceMesh.Router.Health;
using InferenceMesh.Router.Routing;
using InferenceMesh.Router.Tests.Common;
using static InferenceMesh.Router.Tests.Common.RouterTestEnvironment;

namespace InferenceMesh.Router.Tests.Routing;

public sealed class RoutingHealthTests : IDisposable
{
    private static readonly RouteRequest PublicAuto = new() { Classification = Classified(PrivacyLevel.Public) };
    private readonly RouterTestEnvironment _env = new();

    public RoutingHealthTests()
    {
        _env.WriteConfig("""
            backends:
              - name: cloud-a
                type: openai
                baseUrl: http://127.0.0.1:9101/v1
                sovereignty: 0.2
                quality: 0.95
              - name: cloud-b
                type: openai
                baseUrl: http://127.0.0.1:9102/v1
                sovereignty: 0.2
                quality: 0.9
              - name: cloud-weak
                type: openai
                baseUrl: http://127.0.0.1:9103/v1
                quality: 0.3
            """);
    }

    public void Dispose() => _env.Dispose();

    [Fact]
    public void Plan_orders_by_score_ends_with_local_and_drops_what_scores_below_it()
    {
        var plan = _env.Route(_env.Load(), PublicAuto);

        Assert.Equal(["cloud-a", "cloud-b", "local"], plan.Steps.Select(s => s.Backend));
        var below = Assert.Single(plan.Exclusions);
        Assert.Equal(("cloud-weak", ExclusionCode.BelowLocal), (below.Backend, below.Code));
    }

    [Fact]
    public void Open_circuit_excludes_a_backend()
    {
        var health = _env.NewHealth();
        health.SetCircuit("cloud-a", CircuitState.Open);

        var plan = _env.Route(_env.Load(), PublicAuto, health);

        Assert.Equal(["cloud-b", "local"], plan.Steps.Select(s => s.Backend));
        Assert.Contains(plan.Exclusions, e => e is { Backend: "cloud-a", Code: ExclusionCode.CircuitOpen });
    }

    [Fact]
    public void Half_open_circuit_keeps_a_backend_in_the_plan_before_local_ranked_after_healthy_remotes()
    {
        var health = _env.NewHealth();
        health.SetCircuit("cloud-a", CircuitState.HalfOpen);

        var plan = _env.Route(_env.Load(), PublicAuto, health);

        // 0.795 x 0.5 ranks cloud-a after cloud-b (0.77), but its floor score (0.795) still beats local (0.72).
        Assert.Equal(["cloud-b", "cloud-a", "local"], plan.Steps.Select(s => s.Backend));
        var a = plan.Steps[1];
        Assert.Equal(0.5, a.Breakdown.HealthFactor, 3);
        Assert.Equal(0.3975, a.Score, 4);
        Assert.DoesNotContain(plan.Exclusions, e => e.Backend == "cloud-a");
    }

    [Fact]
    public void Half_open_circuit_is_not_excluded_or_demoted_by_the_failures_that_opened_it()
    {
        var health = _env.NewHealth();
        for (var i = 0; i < 10; i++)
        {
            health.RecordFailure("cloud-a", BackendFailureKind.Timeout);
        }

        health.SetCircuit("cloud-a", CircuitState.HalfOpen);

        var plan = _env.Route(_env.Load(), PublicAuto, health);

        Assert.Equal(["cloud-b", "cloud-a", "local"], plan.Steps.Select(s => s.Backend));
        Assert.Equal(0.5, plan.Steps[1].Breakdown.HealthFactor, 3); // the half-open factor only, not x (1 - 1.0)
    }

    [Fact]
    public void Half_open_backend_that_would_score_below_local_anyway_stays_out()
    {
        var health = _env.NewHealth();
        health.SetCircuit("cloud-weak", CircuitState.HalfOpen);

        var plan = _env.Route(_env.Load(), PublicAuto, health);

        Assert.Equal(["cloud-a", "cloud-b", "local"], plan.Steps.Select(s => s.Backend));
        Assert.Contains(plan.Exclusions, e => e is { Backend: "cloud-weak", Code: ExclusionCode.BelowLocal });
    }

    [Fact]
    public void A_closed_circuit_after_an_outage_routes_by_fresh_health_not_by_the_old_failures()
    {
        var health = _env.NewHealth();
        for (var i = 0; i < 5; i++)
        {
            health.RecordFailure("cloud-a", BackendFailureKind.Refused);
        }

        health.SetCircuit("cloud-a", CircuitState.Open);
        health.SetCircuit("cloud-a", CircuitState.HalfOpen);
        health.SetCircuit("cloud-a", CircuitState.Closed);

        var plan = _env.Route(_env.Load(), PublicAuto, health);

        Assert.Equal(["cloud-a", "cloud-b", "local"], plan.Steps.Select(s => s.Backend));
        Assert.Equal(1.0, plan.Steps[0].Breakdown.HealthFactor);
    }

    [Fact]
    public void High_error_rate_excludes_and_a_moderate_one_demotes()
    {
        var health = _env.NewHealth();
        for (var i = 0; i < 5; i++)
        {
            health.RecordFailure("cloud-a", BackendFailureKind.Timeout);
        }

        health.RecordSuccess("cloud-b", TimeSpan.FromMilliseconds(1000));
        health.RecordSuccess("cloud-b", TimeSpan.FromMilliseconds(1000));
        health.RecordSuccess("cloud-b", TimeSpan.FromMilliseconds(1000));
        health.RecordSuccess("cloud-b", TimeSpan.FromMilliseconds(1000));
        health.RecordFailure("cloud-b", BackendFailureKind.UpstreamError);

        var plan = _env.Route(_env.Load(), PublicAuto, health);

        var excluded = Assert.Single(plan.Exclusions, e => e.Backend == "cloud-a");
        Assert.Equal(ExclusionCode.ErrorRate, excluded.Code);
        var b = Assert.Single(plan.Exclusions, e => e.Backend == "cloud-b");
        Assert.Equal(ExclusionCode.BelowLocal, b.Code);
        Assert.Equal(0.8, b.Breakdown!.HealthFactor, 3);
        Assert.Equal(0.616, b.Score!.Value, 3);
        Assert.True(b.Breakdown.LatencyMeasured);
        // 0.77 x 0.8 = 0.616 < local 0.72: local now leads and ends the plan.
        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
    }

    [Fact]
    public void Errors_below_the_minimum_sample_count_do_not_count()
    {
        var health = _env.NewHealth();
        health.RecordFailure("cloud-a", BackendFailureKind.Refused);

        var plan = _env.Route(_env.Load(), PublicAuto, health);

        Assert.Equal("cloud-a", plan.Steps[0].Backend);
        Assert.Equal(1.0, plan.Steps[0].Breakdown.HealthFactor);
    }

    [Fact]
    public void Measured_latency_replaces_the_declared_one()
    {
        var health = _env.NewHealth();
        health.RecordSuccess("cloud-a", TimeSpan.FromMilliseconds(10_000));

        var plan = _env.Route(_env.Load(), PublicAuto, health);

        Assert.Equal(["cloud-b", "local"], plan.Steps.Select(s => s.Backend));
        Assert.Contains(plan.Exclusions, e => e is { Backend: "cloud-a", Code: ExclusionCode.BelowLocal });
    }

    [Fact]
    public void Local_is_never_excluded_for_health()
    {
        var health = _env.NewHealth();
        health.SetCircuit("local", CircuitState.Open);

        var plan = _env.Route(_env.Load(), new RouteRequest { Classification = Classified(PrivacyLevel.Confidential) }, health);

        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
    }
}
