using System.Collections.Concurrent;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Health;
using InferenceMesh.Router.Policies;
using InferenceMesh.Router.Routing;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using CircuitState = InferenceMesh.Router.Health.CircuitState;

namespace InferenceMesh.Gateway.Backends.Resilience;

/// <summary>
/// One Polly pipeline per remote backend, built once and kept by name: retry (outermost; only before
/// anything reached the client and only for <see cref="BackendErrors.IsRetryable"/> failures), circuit
/// breaker (its state mirrored into <see cref="IBackendHealth"/>, so the router leaves an open backend out),
/// and a timeout to the first byte (innermost, per attempt). When a circuit opens, a probe without any
/// prompt is scheduled for the end of the break; its success closes the circuit (half-open → closed).
/// Every attempt's outcome and latency is recorded in <see cref="IBackendHealth"/>. Thread-safe.
/// </summary>
internal sealed partial class BackendPipelines(
    BackendOptions options,
    IBackendHealth health,
    IApiKeyResolver keys,
    IRoutingConfigProvider config,
    IEnumerable<IChatBackend> backends,
    IPeerCandidateSource peers,
    TimeProvider time,
    ILogger<BackendPipelines> logger) : IDisposable
{
    /// <summary>Delay before trying a probe again when the circuit was still open at the probe's time.</summary>
    private static readonly TimeSpan ProbeRetryDelay = TimeSpan.FromMilliseconds(500);

    private readonly ConcurrentDictionary<string, Lazy<ResiliencePipeline<BackendAttempt>>> _pipelines = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, ITimer> _probes = new(StringComparer.OrdinalIgnoreCase);
    private int _disposed;

    /// <summary>
    /// Runs <paramref name="attempt"/> through the backend's pipeline and records every attempt in health.
    /// An open circuit gives <see cref="BackendError.CircuitOpen"/> without calling anything.
    /// </summary>
    public async Task<BackendAttempt> ExecuteAsync(string backend, Func<CancellationToken, Task<BackendAttempt>> attempt, CancellationToken cancellationToken)
    {
        var pipeline = For(backend);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            return await pipeline.ExecuteAsync(
                static async (context, state) =>
                {
                    var (self, name, run) = state;
                    var result = await run(context.CancellationToken);
                    self.Record(name, result);
                    return result;
                },
                context,
                (this, backend, attempt));
        }
        catch (BrokenCircuitException)
        {
            return BackendAttempt.Failed(BackendError.CircuitOpen);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>The backend's pipeline (built on first use, then reused).</summary>
    public ResiliencePipeline<BackendAttempt> For(string backend) =>
        _pipelines.GetOrAdd(backend, name => new Lazy<ResiliencePipeline<BackendAttempt>>(() => Build(name))).Value;

    private void Record(string backend, BackendAttempt result)
    {
        if (result.Succeeded)
        {
            health.RecordSuccess(backend, result.TimeToFirstByte ?? TimeSpan.Zero);
        }
        else if (result.Error.ToHealthKind() is { } kind)
        {
            health.RecordFailure(backend, kind);
        }
    }

    private ResiliencePipeline<BackendAttempt> Build(string backend)
    {
        var builder = new ResiliencePipelineBuilder<BackendAttempt> { TimeProvider = time, Name = "backend", InstanceName = backend };
        if (options.MaxRetryAttempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<BackendAttempt>
            {
                // Never after the first byte: a committed attempt is final whatever happened to it.
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Result is { Committed: false } r && r.Error.IsRetryable()),
                MaxRetryAttempts = options.MaxRetryAttempts,
                Delay = options.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = false,
                OnRetry = args =>
                {
                    Log.Retrying(logger, backend, args.Outcome.Result.Error, args.AttemptNumber + 1);
                    return ValueTask.CompletedTask;
                },
            });
        }

        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<BackendAttempt>
        {
            ShouldHandle = static args => ValueTask.FromResult(
                args.Outcome.Exception is { } ex ? ex is not OperationCanceledException : args.Outcome.Result.Error.IsBackendFault()),
            FailureRatio = options.CircuitFailureRatio,
            MinimumThroughput = options.CircuitMinimumThroughput,
            SamplingDuration = options.CircuitSamplingDuration,
            BreakDuration = options.CircuitBreakDuration,
            OnOpened = args =>
            {
                health.SetCircuit(backend, CircuitState.Open);
                Log.CircuitOpened(logger, backend, args.BreakDuration);
                ScheduleProbe(backend, args.BreakDuration);
                return ValueTask.CompletedTask;
            },
            OnHalfOpened = _ =>
            {
                health.SetCircuit(backend, CircuitState.HalfOpen);
                Log.CircuitHalfOpened(logger, backend);
                return ValueTask.CompletedTask;
            },
            OnClosed = _ =>
            {
                health.SetCircuit(backend, CircuitState.Closed);
                Log.CircuitClosed(logger, backend);
                return ValueTask.CompletedTask;
            },
        });

        builder.AddTimeout(options.FirstByteTimeout);
        return builder.Build();
    }

    private void ScheduleProbe(string backend, TimeSpan after)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        var timer = time.CreateTimer(_ => _ = ProbeAsync(backend), null, after, Timeout.InfiniteTimeSpan);
        if (_probes.TryGetValue(backend, out var old) && _probes.TryUpdate(backend, timer, old))
        {
            old.Dispose();
        }
        else
        {
            _probes[backend] = timer;
        }
    }

    /// <summary>Sends the backend's prompt-free probe through its pipeline: success closes the circuit, failure opens it again.</summary>
    private async Task ProbeAsync(string name)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        try
        {
            var backend = config.Current.Backends.FirstOrDefault(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase))
                ?? peers.Find(name)?.ToBackend();
            var implementation = backend is null ? null : backends.FirstOrDefault(b => b.Kind == backend.Kind);
            if (backend is null || implementation is null)
            {
                return; // removed from config, or nothing can call it
            }

            var lookup = keys.Resolve(backend);
            var key = lookup.Status == ApiKeyStatus.Found ? lookup.Key : null;
            var result = await ExecuteAsync(name, ct => implementation.ProbeAsync(backend, key, ct), CancellationToken.None);
            if (result.Error == BackendError.CircuitOpen)
            {
                ScheduleProbe(name, ProbeRetryDelay);
                return;
            }

            Log.Probed(logger, name, result.Error);
        }
        catch (Exception ex)
        {
            Log.ProbeFailed(logger, name, ex);
        }
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _disposed, 1);
        foreach (var timer in _probes.Values)
        {
            timer.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1500, Level = LogLevel.Information, Message = "Backend {Backend}: retrying after {Error} (attempt {Attempt})")]
        public static partial void Retrying(ILogger logger, string backend, BackendError error, int attempt);

        [LoggerMessage(EventId = 1501, Level = LogLevel.Warning, Message = "Backend {Backend}: circuit opened for {BreakDuration}; plans leave it out until a probe succeeds")]
        public static partial void CircuitOpened(ILogger logger, string backend, TimeSpan breakDuration);

        [LoggerMessage(EventId = 1502, Level = LogLevel.Information, Message = "Backend {Backend}: circuit half-open, probing")]
        public static partial void CircuitHalfOpened(ILogger logger, string backend);

        [LoggerMessage(EventId = 1503, Level = LogLevel.Information, Message = "Backend {Backend}: circuit closed")]
        public static partial void CircuitClosed(ILogger logger, string backend);

        [LoggerMessage(EventId = 1504, Level = LogLevel.Debug, Message = "Backend {Backend}: probe finished with {Error}")]
        public static partial void Probed(ILogger logger, string backend, BackendError error);

        [LoggerMessage(EventId = 1505, Level = LogLevel.Error, Message = "Backend {Backend}: probe failed with an exception")]
        public static partial void ProbeFailed(ILogger logger, string backend, Exception exception);
    }
}
