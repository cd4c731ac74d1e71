using System.Collections.Concurrent;

namespace InferenceMesh.Router.Health;

/// <summary>
/// Keeps a time-bounded, size-bounded window of outcomes per backend. When a circuit closes again (from open or
/// half-open) the backend's window is emptied, so a recovered backend is not kept out by the failures that opened it.
/// </summary>
internal sealed class BackendHealthTracker : IBackendHealth
{
    private readonly ConcurrentDictionary<string, BackendWindow> _windows = new(StringComparer.OrdinalIgnoreCase);
    private readonly HealthOptions _options;
    private readonly TimeProvider _time;

    public BackendHealthTracker(HealthOptions options, TimeProvider time)
    {
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        _options = options;
        _time = time;
    }

    public void RecordSuccess(string backend, TimeSpan latency) =>
        Window(backend).Add(new Outcome(_time.GetUtcNow(), null, Math.Max(0, latency.TotalMilliseconds)), _options);

    public void RecordFailure(string backend, BackendFailureKind kind) =>
        Window(backend).Add(new Outcome(_time.GetUtcNow(), kind, 0), _options);

    public void SetCircuit(string backend, CircuitState state) => Window(backend).SetCircuit(state);

    public BackendHealthSnapshot Get(string backend) =>
        _windows.TryGetValue(backend, out var window) ? window.Snapshot(_time.GetUtcNow() - _options.Window) : BackendHealthSnapshot.Unknown;

    private BackendWindow Window(string backend) => _windows.GetOrAdd(backend, static _ => new BackendWindow());

    private readonly record struct Outcome(DateTimeOffset At, BackendFailureKind? Failure, double LatencyMs);

    private sealed class BackendWindow
    {
        private readonly Lock _lock = new();
        private readonly Queue<Outcome> _outcomes = new();
        private CircuitState _circuit = CircuitState.Closed;

        public void Add(Outcome outcome, HealthOptions options)
        {
            lock (_lock)
            {
                _outcomes.Enqueue(outcome);
                Prune(outcome.At - options.Window);
                while (_outcomes.Count > options.MaxSamples)
                {
                    _outcomes.Dequeue();
                }
            }
        }

        public void SetCircuit(CircuitState state)
        {
            lock (_lock)
            {
                // Closing again means the backend recovered (a probe succeeded): the failures that opened the circuit
                // would otherwise keep it out by error rate for up to a whole window. The window starts afresh.
                if (state == CircuitState.Closed && _circuit != CircuitState.Closed)
                {
                    _outcomes.Clear();
                }

                _circuit = state;
            }
        }

        public BackendHealthSnapshot Snapshot(DateTimeOffset cutoff)
        {
            lock (_lock)
            {
                Prune(cutoff);
                int samples = 0, failures = 0, successes = 0;
                double latencySum = 0;
                BackendFailureKind? last = null;
                foreach (var o in _outcomes)
                {
                    samples++;
                    if (o.Failure is { } kind)
                    {
                        failures++;
                        last = kind;
                    }
                    else
                    {
                        successes++;
                        latencySum += o.LatencyMs;
                    }
                }

                return new BackendHealthSnapshot(
                    samples,
                    failures,
                    samples == 0 ? 0 : (double)failures / samples,
                    successes == 0 ? null : TimeSpan.FromMilliseconds(latencySum / successes),
                    _circuit,
                    last);
            }
        }

        private void Prune(DateTimeOffset cutoff)
        {
            while (_outcomes.TryPeek(out var oldest) && oldest.At < cutoff)
            {
                _outcomes.Dequeue();
            }
        }
    }
}
