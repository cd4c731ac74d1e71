namespace InferenceMesh.Gateway.Backends;

/// <summary>Every default of the remote backends' transport and resilience, in one place.</summary>
internal static class BackendDefaults
{
    public const string BackendHeader = "X-InferenceMesh-Backend";

    /// <summary>Header value when no backend answered (the request was refused before any backend was called).</summary>
    public const string NoBackend = "none";

    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan FirstByteTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan ActivityTimeout = TimeSpan.FromSeconds(120);
    public static readonly TimeSpan StreamIdleTimeout = TimeSpan.FromSeconds(60);
    public const int MaxRetryAttempts = 1;
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);
    public const double CircuitFailureRatio = 0.5;
    public const int CircuitMinimumThroughput = 4;
    public static readonly TimeSpan CircuitSamplingDuration = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan CircuitBreakDuration = TimeSpan.FromSeconds(30);
    public const int MaxResponseBytes = 16 * 1024 * 1024;
    public const int MaxEventBytes = 1024 * 1024;
}

/// <summary>Transport and resilience of remote backends (one pipeline per backend, built once). Immutable; validated at start.</summary>
public sealed record BackendOptions
{
    /// <summary>TCP/TLS connect timeout of the shared handler. The default value is 10 seconds.</summary>
    public TimeSpan ConnectTimeout { get; init; } = BackendDefaults.ConnectTimeout;

    /// <summary>
    /// Time until the upstream's first byte (stream: its first event; non-streamed: its response headers, which
    /// most upstreams send with the whole answer). Cancels the attempt; retried when allowed. The default value is 60 seconds.
    /// </summary>
    public TimeSpan FirstByteTimeout { get; init; } = BackendDefaults.FirstByteTimeout;

    /// <summary>YARP's activity (idle) timeout: no whole-request timeout, so long streams live. The default value is 120 seconds.</summary>
    public TimeSpan ActivityTimeout { get; init; } = BackendDefaults.ActivityTimeout;

    /// <summary>Longest silence of an upstream stream after its first event before it counts as broken (then continued locally). Below <see cref="ActivityTimeout"/>. The default value is 60 seconds.</summary>
    public TimeSpan StreamIdleTimeout { get; init; } = BackendDefaults.StreamIdleTimeout;

    /// <summary>Retries of the same backend, only before anything reached the client and only for refused connections, 502/503/504 and first-byte timeouts. The default value is 1.</summary>
    public int MaxRetryAttempts { get; init; } = BackendDefaults.MaxRetryAttempts;

    /// <summary>Delay before the first retry (exponential after). The default value is 200 ms.</summary>
    public TimeSpan RetryDelay { get; init; } = BackendDefaults.RetryDelay;

    /// <summary>Failure ratio over <see cref="CircuitSamplingDuration"/> that opens the circuit. The default value is 0.5.</summary>
    public double CircuitFailureRatio { get; init; } = BackendDefaults.CircuitFailureRatio;

    /// <summary>Calls in the sampling window before the ratio counts (Polly's minimum is 2). The default value is 4.</summary>
    public int CircuitMinimumThroughput { get; init; } = BackendDefaults.CircuitMinimumThroughput;

    /// <summary>The circuit breaker's sampling window. The default value is 30 seconds.</summary>
    public TimeSpan CircuitSamplingDuration { get; init; } = BackendDefaults.CircuitSamplingDuration;

    /// <summary>How long an open circuit stays open before a probe (GET {baseUrl}/models, no prompt) may close it. The default value is 30 seconds.</summary>
    public TimeSpan CircuitBreakDuration { get; init; } = BackendDefaults.CircuitBreakDuration;

    /// <summary>Largest non-streamed upstream body. The default value is 16 MiB.</summary>
    public int MaxResponseBytes { get; init; } = BackendDefaults.MaxResponseBytes;

    /// <summary>Largest single SSE event. The default value is 1 MiB.</summary>
    public int MaxEventBytes { get; init; } = BackendDefaults.MaxEventBytes;

    /// <summary>Returns null when valid, else a one-line message naming the option.</summary>
    public string? Validate()
    {
        if (ConnectTimeout <= TimeSpan.Zero) return $"{nameof(ConnectTimeout)} must be positive (got {ConnectTimeout}).";
        if (FirstByteTimeout < TimeSpan.FromMilliseconds(10) || FirstByteTimeout > TimeSpan.FromHours(24)) return $"{nameof(FirstByteTimeout)} must be from 10 ms to 24 hours (got {FirstByteTimeout}).";
        if (ActivityTimeout <= TimeSpan.Zero) return $"{nameof(ActivityTimeout)} must be positive (got {ActivityTimeout}).";
        if (StreamIdleTimeout <= TimeSpan.Zero || StreamIdleTimeout >= ActivityTimeout) return $"{nameof(StreamIdleTimeout)} must be positive and below {nameof(ActivityTimeout)} (got {StreamIdleTimeout}).";
        if (MaxRetryAttempts is < 0 or > 10) return $"{nameof(MaxRetryAttempts)} must be from 0 to 10 (got {MaxRetryAttempts}).";
        if (RetryDelay < TimeSpan.Zero || RetryDelay > TimeSpan.FromMinutes(1)) return $"{nameof(RetryDelay)} must be from 0 to 1 minute (got {RetryDelay}).";
        if (!(CircuitFailureRatio > 0 && CircuitFailureRatio <= 1)) return $"{nameof(CircuitFailureRatio)} must be above 0 and at most 1 (got {CircuitFailureRatio}).";
        if (CircuitMinimumThroughput < 2) return $"{nameof(CircuitMinimumThroughput)} must be at least 2 (got {CircuitMinimumThroughput}).";
        if (CircuitSamplingDuration < TimeSpan.FromMilliseconds(500)) return $"{nameof(CircuitSamplingDuration)} must be at least 500 ms (got {CircuitSamplingDuration}).";
        if (CircuitBreakDuration < TimeSpan.FromMilliseconds(500)) return $"{nameof(CircuitBreakDuration)} must be at least 500 ms (got {CircuitBreakDuration}).";
        if (MaxResponseBytes < 1024) return $"{nameof(MaxResponseBytes)} must be at least 1024 (got {MaxResponseBytes}).";
        if (MaxEventBytes < 1024) return $"{nameof(MaxEventBytes)} must be at least 1024 (got {MaxEventBytes}).";
        return null;
    }
}
