namespace InferenceMesh.Router.Health;

/// <summary>Why a call to a backend failed. Expected failures are values, so the router decides without catching.</summary>
public enum BackendFailureKind
{
    /// <summary>No response (or no first token) in time.</summary>
    Timeout,

    /// <summary>The connection was refused or could not be made.</summary>
    Refused,

    /// <summary>The stream broke after it started.</summary>
    StreamCut,

    /// <summary>The upstream answered with a server error (5xx) or an unreadable body.</summary>
    UpstreamError,

    /// <summary>The upstream answered 429.</summary>
    RateLimited,

    /// <summary>The upstream refused the key (401/403).</summary>
    Unauthorized,
}

/// <summary>The circuit breaker's state, as the executor's resilience pipeline reports it.</summary>
public enum CircuitState
{
    Closed,
    HalfOpen,
    Open,
}

/// <summary>A backend's health over the rolling window.</summary>
/// <param name="Samples">Outcomes (successes and failures) in the window.</param>
/// <param name="Failures">Failures in the window.</param>
/// <param name="ErrorRate">Failures / samples; 0 with no samples.</param>
/// <param name="MeanLatency">Mean latency of the successes in the window; null when there are none.</param>
/// <param name="Circuit">The last state reported by <see cref="IBackendHealth.SetCircuit"/>.</param>
/// <param name="LastFailure">The most recent failure kind in the window, if any.</param>
public sealed record BackendHealthSnapshot(
    int Samples,
    int Failures,
    double ErrorRate,
    TimeSpan? MeanLatency,
    CircuitState Circuit,
    BackendFailureKind? LastFailure)
{
    public static BackendHealthSnapshot Unknown { get; } = new(0, 0, 0, null, CircuitState.Closed, null);
}

/// <summary>
/// Live health per backend name, fed by the executor and read by the router. Thread-safe; all time
/// comes from the injected TimeProvider.
/// </summary>
public interface IBackendHealth
{
    /// <summary>A call succeeded; <paramref name="latency"/> is the time to the first byte (or token) of the answer.</summary>
    void RecordSuccess(string backend, TimeSpan latency);

    void RecordFailure(string backend, BackendFailureKind kind);

    /// <summary>
    /// The circuit breaker's new state. Closing again (from open or half-open) empties the backend's window: the
    /// failures that opened the circuit no longer count against it.
    /// </summary>
    void SetCircuit(string backend, CircuitState state);

    /// <summary>The health of <paramref name="backend"/> now; <see cref="BackendHealthSnapshot.Unknown"/> when nothing was recorded.</summary>
    BackendHealthSnapshot Get(string backend);
}
