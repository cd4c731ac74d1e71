using InferenceMesh.Router.Health;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.Router.Tests.Health;

public sealed class BackendHealthTrackerTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Unknown_backend_is_healthy_with_no_samples()
    {
        var health = new BackendHealthTracker(new HealthOptions(), _time);

        Assert.Same(BackendHealthSnapshot.Unknown, health.Get("nobody"));
    }

    [Fact]
    public void Error_rate_mean_latency_and_last_failure()
    {
        var health = new BackendHealthTracker(new HealthOptions(), _time);
        health.RecordSuccess("a", TimeSpan.FromMilliseconds(100));
        health.RecordSuccess("a", TimeSpan.FromMilliseconds(300));
        health.RecordFailure("a", BackendFailureKind.RateLimited);
        health.RecordFailure("A", BackendFailureKind.Timeout);

        var snapshot = health.Get("a");

        Assert.Equal((4, 2, 0.5), (snapshot.Samples, snapshot.Failures, snapshot.ErrorRate));
        Assert.Equal(TimeSpan.FromMilliseconds(200), snapshot.MeanLatency);
        Assert.Equal(BackendFailureKind.Timeout, snapshot.LastFailure);
        Assert.Equal(CircuitState.Closed, snapshot.Circuit);
    }

    [Fact]
    public void Outcomes_leave_the_window_as_time_passes()
    {
        var health = new BackendHealthTracker(new HealthOptions { Window = TimeSpan.FromSeconds(10) }, _time);
        health.RecordFailure("a", BackendFailureKind.Refused);
        _time.Advance(TimeSpan.FromSeconds(6));
        health.RecordSuccess("a", TimeSpan.FromMilliseconds(50));

        Assert.Equal(2, health.Get("a").Samples);
        _time.Advance(TimeSpan.FromSeconds(5));
        var later = health.Get("a");
        Assert.Equal((1, 0.0), (later.Samples, later.ErrorRate));
        _time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(0, health.Get("a").Samples);
        Assert.Null(health.Get("a").MeanLatency);
    }

    [Fact]
    public void Window_keeps_at_most_max_samples()
    {
        var health = new BackendHealthTracker(new HealthOptions { MaxSamples = 3 }, _time);
        health.RecordFailure("a", BackendFailureKind.Refused);
        for (var i = 0; i < 3; i++)
        {
            health.RecordSuccess("a", TimeSpan.FromMilliseconds(10));
        }

        Assert.Equal((3, 0), (health.Get("a").Samples, health.Get("a").Failures));
    }

    [Fact]
    public void Circuit_state_is_kept_until_changed()
    {
        var health = new BackendHealthTracker(new HealthOptions(), _time);
        health.SetCircuit("a", CircuitState.Open);
        _time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(CircuitState.Open, health.Get("a").Circuit);
        health.SetCircuit("a", CircuitState.HalfOpen);
        Assert.Equal(CircuitState.HalfOpen, health.Get("a").Circuit);
    }

    [Theory]
    [InlineData(CircuitState.Open)]
    [InlineData(CircuitState.HalfOpen)]
    public void Closing_a_circuit_again_empties_the_window(CircuitState from)
    {
        var health = new BackendHealthTracker(new HealthOptions(), _time);
        for (var i = 0; i < 5; i++)
        {
            health.RecordFailure("a", BackendFailureKind.Timeout);
        }

        health.SetCircuit("a", from);
        health.SetCircuit("a", CircuitState.Closed);

        var snapshot = health.Get("a");
        Assert.Equal((0, 0, 0.0, CircuitState.Closed), (snapshot.Samples, snapshot.Failures, snapshot.ErrorRate, snapshot.Circuit));
        Assert.Null(snapshot.LastFailure);

        // Outcomes after the close count as usual.
        health.RecordFailure("a", BackendFailureKind.Refused);
        Assert.Equal(1, health.Get("a").Failures);
    }

    [Fact]
    public void Reporting_closed_while_already_closed_keeps_the_window()
    {
        var health = new BackendHealthTracker(new HealthOptions(), _time);
        health.RecordFailure("a", BackendFailureKind.Timeout);
        health.RecordSuccess("a", TimeSpan.FromMilliseconds(10));

        health.SetCircuit("a", CircuitState.Closed);

        Assert.Equal((2, 1), (health.Get("a").Samples, health.Get("a").Failures));
    }

    [Fact]
    public void Options_defaults_and_validation()
    {
        var options = new HealthOptions();

        Assert.Equal((TimeSpan.FromSeconds(60), 200), (options.Window, options.MaxSamples));
        Assert.Null(options.Validate());
        Assert.Equal("The health window must be positive (got 00:00:00).", (options with { Window = TimeSpan.Zero }).Validate());
        var ex = Assert.Throws<ArgumentException>(() => new BackendHealthTracker(options with { MaxSamples = 0 }, _time));
        Assert.StartsWith("The health window must keep at least 1 sample (got 0).", ex.Message);
    }
}
