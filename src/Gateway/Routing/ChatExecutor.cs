using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Backends.Resilience;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Policies;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Gateway.Routing;

/// <summary>
/// Executes a route plan in order. A remote step runs through its backend's resilience pipeline; a failure
/// found before anything reached the client moves on to the next step (the client sees only the
/// <c>X-InferenceMesh-Backend</c> header of the one that answered). The local step, when present, is last.
/// Only the plan's backends are ever called: a step the router left out is never tried, not by failover,
/// not by a retry.
/// </summary>
internal sealed partial class ChatExecutor(
    BackendPipelines pipelines,
    IEnumerable<IChatBackend> backends,
    IApiKeyResolver keys,
    IRoutingConfigProvider config,
    ILocalModelDirectory localModels,
    InferenceService inference,
    ILogger<ChatExecutor> logger)
{
    public async Task<IResult> ExecuteAsync(RoutedChat routed)
    {
        var (chat, _, plan) = routed;
        var http = chat.Http;
        var privacyHeader = http.Response.Headers[ChatRouting.PrivacyLevelHeader].ToString();
        var snapshot = config.Current;
        var failures = new List<string>();
        var rateLimited = 0;
        var unavailable = 0;
        TimeSpan? retryAfter = null; // the shortest wait a rate-limited or unavailable backend asked for
        ApiError? unsupported = null; // what the first backend that cannot carry the request said (e.g. Anthropic and logprobs)
        var refusedAsUnsupported = 0;
        var continuation = new LocalStreamContinuation(inference, LocalContinuationModel(plan), chat, logger);

        foreach (var step in plan.Steps)
        {
            if (step.Kind == BackendKind.Local)
            {
                Reset(http, privacyHeader);
                BackendHeader.Set(http, step.Backend);
                if (failures.Count > 0)
                {
                    Log.LocalAfterFailover(logger, failures.Count);
                }

                return await LocalChat.RunAsync(inference, step.UpstreamModel, chat, http.RequestAborted);
            }

            var backend = step.Config ?? snapshot.Backends.FirstOrDefault(b => string.Equals(b.Name, step.Backend, StringComparison.OrdinalIgnoreCase));
            var implementation = backend is null ? null : backends.FirstOrDefault(b => b.Kind == backend.Kind);
            if (backend is null || implementation is null)
            {
                Log.Skipped(logger, step.Backend, BackendError.NotSupported);
                failures.Add($"{step.Backend}: {BackendError.NotSupported}");
                continue;
            }

            // The router already leaves out a backend whose key is missing (ExclusionCode.MissingApiKey); this only
            // covers a key that disappeared between routing and now.
            var lookup = keys.Resolve(backend);
            if (lookup.Status is ApiKeyStatus.Missing or ApiKeyStatus.Unreadable)
            {
                Log.MissingKey(logger, backend.Name, lookup.ToString());
                failures.Add($"{backend.Name}: {BackendError.MissingApiKey}");
                continue;
            }

            var call = new BackendCall
            {
                Http = http,
                Backend = backend,
                UpstreamModel = step.UpstreamModel,
                Body = chat.Body,
                Request = chat.Request,
                Stream = chat.Settings.Stream,
                Privacy = privacyHeader,
                ApiKey = lookup.Status == ApiKeyStatus.Found ? lookup.Key : null,
                Continuation = continuation,
                Capture = chat.Capture,
                OnFirstByte = static () => { },
            };

            var attempt = await pipelines.ExecuteAsync(backend.Name, token => AttemptAsync(implementation, call, privacyHeader, token), http.RequestAborted);
            if (attempt.Committed)
            {
                if (attempt.Error is BackendError.None or BackendError.Canceled)
                {
                    Log.Answered(logger, backend.Name, attempt.TimeToFirstByte?.TotalMilliseconds ?? 0);
                }
                else
                {
                    Log.BrokeAfterFirstByte(logger, backend.Name, attempt.Error, attempt.Exception);
                }

                return Results.Empty; // the backend wrote the whole response
            }

            if (attempt.Error == BackendError.Canceled || http.RequestAborted.IsCancellationRequested)
            {
                return Results.Empty; // the client left; nobody to answer
            }

            Log.FailedBeforeFirstByte(logger, backend.Name, attempt.Error, attempt.UpstreamStatus ?? 0, attempt.Exception);
            if (attempt.Error == BackendError.Rejected)
            {
                Reset(http, privacyHeader);
                BackendHeader.Set(http, backend.Name);
                return attempt.ClientError ?? new ApiError(
                    attempt.UpstreamStatus ?? StatusCodes.Status400BadRequest,
                    $"The backend '{backend.Name}' rejected the request as invalid (HTTP {attempt.UpstreamStatus ?? 400}).",
                    ApiError.InvalidRequest, null, "upstream_rejected");
            }

            failures.Add($"{backend.Name}: {attempt.Error}");
            if (attempt.Error == BackendError.NotSupported && attempt.ClientError is { } refusal)
            {
                unsupported ??= refusal;
                refusedAsUnsupported++;
            }

            var overloaded = attempt.Error == BackendError.Unavailable && attempt.UpstreamStatus is 503 or 529; // not 502/504: those are broken, not busy
            if (attempt.Error == BackendError.RateLimited || overloaded)
            {
                rateLimited += attempt.Error == BackendError.RateLimited ? 1 : 0;
                unavailable += overloaded ? 1 : 0;
                retryAfter = attempt.RetryAfter is { } wait && (retryAfter is null || wait < retryAfter) ? wait : retryAfter;
            }
        }

        Reset(http, privacyHeader);
        BackendHeader.Set(http, BackendDefaults.NoBackend);
        if (unsupported is not null && refusedAsUnsupported == failures.Count)
        {
            // Nothing failed: every backend tried said it cannot carry what the request asks. The client's 400 naming the
            // field, not a 502 that invites retrying the same request.
            return unsupported;
        }

        if (rateLimited > 0 && rateLimited == failures.Count)
        {
            // Every backend tried is only busy for now: the client may retry, after the shortest wait any of them named.
            return new ApiError(StatusCodes.Status429TooManyRequests,
                $"Every backend of the plan is rate limited ({string.Join("; ", failures)}). Retry later.",
                "requests", null, "rate_limit_exceeded", retryAfter is { } wait ? RetryAfter.Seconds(wait) : null);
        }

        if (unavailable > 0 && rateLimited + unavailable == failures.Count)
        {
            // Overloaded for now (503, Anthropic's 529), some maybe rate limited: a retry later may work.
            return new ApiError(StatusCodes.Status503ServiceUnavailable,
                $"Every backend of the plan is unavailable for now ({string.Join("; ", failures)}). Retry later.",
                ApiError.ServerError, null, "backends_unavailable", retryAfter is { } later ? RetryAfter.Seconds(later) : null);
        }

        return new ApiError(StatusCodes.Status502BadGateway,
            $"Every backend of the plan failed before answering ({string.Join("; ", failures)}).",
            ApiError.ServerError, null, "backends_failed");
    }

    /// <summary>One attempt, cancelled by the pipeline's first-byte timeout only until the first byte arrives.</summary>
    private static async Task<BackendAttempt> AttemptAsync(IChatBackend backend, BackendCall template, string privacyHeader, CancellationToken pipelineToken)
    {
        var http = template.Http;
        Reset(http, privacyHeader); // a clean response for every attempt (an earlier one may have set a status)
        BackendHeader.Set(http, BackendDefaults.NoBackend);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var guard = new FirstByteGuard(attempt);
        using (pipelineToken.Register(static state => ((FirstByteGuard)state!).TimedOut(), guard))
        {
            var result = await backend.SendAsync(template with { OnFirstByte = guard.Arrived }, attempt.Token);
            if (!result.Committed && guard.HasTimedOut && !http.RequestAborted.IsCancellationRequested)
            {
                result = result with { Error = BackendError.Timeout };
            }

            return result;
        }
    }

    /// <summary>The local model that may finish a broken stream: privacy always allows local; only a missing model prevents it.</summary>
    private string? LocalContinuationModel(RoutePlan plan)
    {
        if (plan.Steps.FirstOrDefault(s => s.Kind == BackendKind.Local) is { } local)
        {
            return local.UpstreamModel;
        }

        return plan.Exclusions.Any(e => e.Code is ExclusionCode.NoLocalModel or ExclusionCode.PrivacyClass && e.Backend == RouterDefaults.LocalBackendName)
            ? null
            : localModels.DefaultModel;
    }

    private static void Reset(HttpContext http, string privacyHeader)
    {
        if (!http.Response.HasStarted)
        {
            http.Response.Clear();
            http.Response.Headers[ChatRouting.PrivacyLevelHeader] = privacyHeader;
        }
    }

    private sealed class FirstByteGuard(CancellationTokenSource attempt)
    {
        private int _state; // 0 waiting, 1 first byte arrived, 2 timed out

        public bool HasTimedOut => Volatile.Read(ref _state) == 2;

        public void Arrived() => Interlocked.CompareExchange(ref _state, 1, 0);

        public void TimedOut()
        {
            if (Interlocked.CompareExchange(ref _state, 2, 0) == 0)
            {
                attempt.Cancel();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1650, Level = LogLevel.Debug, Message = "Backend {Backend} answered (first byte after {FirstByteMs:0} ms)")]
        public static partial void Answered(ILogger logger, string backend, double firstByteMs);

        [LoggerMessage(EventId = 1651, Level = LogLevel.Warning, Message = "Backend {Backend} failed before the first byte: {Error} (upstream status {Status}); trying the next step of the plan")]
        public static partial void FailedBeforeFirstByte(ILogger logger, string backend, BackendError error, int status, Exception? exception);

        [LoggerMessage(EventId = 1652, Level = LogLevel.Warning, Message = "Backend {Backend} broke after the first byte: {Error}; the stream was finished by the continuation")]
        public static partial void BrokeAfterFirstByte(ILogger logger, string backend, BackendError error, Exception? exception);

        [LoggerMessage(EventId = 1653, Level = LogLevel.Warning, Message = "Backend {Backend} skipped: {Error}")]
        public static partial void Skipped(ILogger logger, string backend, BackendError error);

        [LoggerMessage(EventId = 1654, Level = LogLevel.Warning, Message = "Backend {Backend} skipped: its API key is {KeyStatus}")]
        public static partial void MissingKey(ILogger logger, string backend, string keyStatus);

        [LoggerMessage(EventId = 1655, Level = LogLevel.Information, Message = "Answering locally after {Failures} remote failure(s)")]
        public static partial void LocalAfterFailover(ILogger logger, int failures);
    }
}
