using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Health;
using InferenceMesh.Router.Policies;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Router.Routing;

/// <summary>
/// The default <see cref="IRouter"/>: privacy as a hard filter, then model, API key and health filters, then
/// weighted scores, then the local floor.
/// </summary>
internal sealed partial class BackendRouter(
    IRoutingConfigProvider config,
    IBackendHealth health,
    ILocalModelDirectory localModels,
    IApiKeyResolver keys,
    IPeerCandidateSource peers,
    ILogger<BackendRouter> logger) : IRouter
{
    public RoutePlan Route(RouteRequest request)
    {
        var plan = Plan(config.Current, health, localModels, keys, request, peers.Current);
        if (plan.IsEmpty)
        {
            Log.EmptyPlan(logger, plan.Privacy.Level, ModelForLog(plan.RequestedModel), plan.Exclusions.Count);
        }
        else if (logger.IsEnabled(LogLevel.Debug))
        {
            // Guarded: the joined step list would otherwise be built on every request whether or not Debug is on.
            Log.Planned(logger, plan.Privacy.Level, ModelForLog(plan.RequestedModel), string.Join(" > ", plan.Steps.Select(s => s.Backend)), plan.Exclusions.Count);
        }

        return plan;
    }

    /// <summary>Longest requested model name written to a log line; the rest is cut.</summary>
    internal const int MaxLoggedModelLength = 200;

    /// <summary>
    /// The requested model as it goes into a log line. It is the client's own text, of any length (up to the body limit)
    /// and holding anything: a CR, NUL or terminal escape sequence would forge or garble the operator's log, so control
    /// characters become '?' and the name is cut at <see cref="MaxLoggedModelLength"/>.
    /// </summary>
    internal static string ModelForLog(string model) =>
        model.Length <= MaxLoggedModelLength && !model.Any(char.IsControl)
            ? model
            : string.Concat(model.Take(MaxLoggedModelLength).Select(c => char.IsControl(c) ? '?' : c)) + (model.Length > MaxLoggedModelLength ? "…" : "");

    /// <summary>The routing decision as a pure function of its inputs (also used by config check).</summary>
    internal static RoutePlan Plan(
        RoutingSnapshot snapshot, IBackendHealth health, ILocalModelDirectory localModels, IApiKeyResolver keys, RouteRequest request,
        IReadOnlyList<PeerCandidate>? peers = null)
    {
        var policy = snapshot.Policy;
        var privacy = PrivacyResolver.Resolve(request.Classification, request.CallerPrivacy, policy);
        var rule = policy.RuleFor(privacy.Level);
        var requested = string.IsNullOrWhiteSpace(request.Model) ? RouterDefaults.AutoModel : request.Model.Trim();
        var isAuto = string.Equals(requested, RouterDefaults.AutoModel, StringComparison.OrdinalIgnoreCase);
        policy.Aliases.TryGetValue(requested, out var alias);
        var level = PrivacyHeader.Format(privacy.Level);

        var exclusions = new List<RouteExclusion>();
        var candidates = new List<RouteStep>();
        foreach (var backend in snapshot.Backends)
        {
            var isLocal = backend.Kind == BackendKind.Local;
            if (PrivacyExclusion(backend, rule, level) is { } privacyExclusion)
            {
                exclusions.Add(privacyExclusion);
                continue;
            }

            if (isLocal && localModels.DefaultModel is null)
            {
                exclusions.Add(new(backend.Name, ExclusionCode.NoLocalModel, "no local model is installed"));
                continue;
            }

            if (UpstreamModel(backend, requested, isAuto, alias, localModels) is not { } upstream)
            {
                exclusions.Add(new(backend.Name, ExclusionCode.ModelNotOffered, $"offers neither '{requested}' nor an alias of it"));
                continue;
            }

            // A key named in the config but absent (unset variable, missing or unreadable file) can only fail: leave the
            // backend out here, visibly, rather than let the executor skip it. A backend that names no key is keyless.
            if (!isLocal && keys.Resolve(backend) is { Status: ApiKeyStatus.Missing or ApiKeyStatus.Unreadable } key)
            {
                exclusions.Add(new(backend.Name, ExclusionCode.MissingApiKey, $"its API key is {key.Status.ToString().ToLowerInvariant()} ({key.Source})"));
                continue;
            }

            var live = health.Get(backend.Name);
            // The local engine is the floor: health demotes nothing there, the executor has nowhere else to go.
            if (!isLocal && live.Circuit == CircuitState.Open)
            {
                exclusions.Add(new(backend.Name, ExclusionCode.CircuitOpen, "circuit open after recent failures"));
                continue;
            }

            // Half-open: the failures in the window are why the circuit opened; the circuit now decides, so the
            // backend stays in the plan for real traffic to probe it (the resilience pipeline admits one trial at a time).
            if (!isLocal && live.Circuit != CircuitState.HalfOpen
                && live.Samples >= policy.Health.MinSamples && live.ErrorRate >= policy.Health.ExcludeErrorRate)
            {
                exclusions.Add(new(backend.Name, ExclusionCode.ErrorRate,
                    $"error rate {live.ErrorRate:0.00} over {live.Samples} recent calls is at or above {policy.Health.ExcludeErrorRate:0.00}"));
                continue;
            }

            var breakdown = Score(backend, live, policy, isLocal);
            candidates.Add(new RouteStep(backend.Name, backend.Kind, upstream.Model, breakdown.Weighted * breakdown.HealthFactor, breakdown, upstream.ViaAlias));
        }

        foreach (var peer in peers ?? [])
        {
            if (PeerStep(peer, snapshot, health, rule, level, requested, isAuto, alias, exclusions) is { } peerStep)
            {
                candidates.Add(peerStep);
            }
        }

        // The local model ends the plan whenever it can serve: a remote is tried only if it beats it. Being half-open
        // never pushes a backend below local (that would stop real traffic from ever probing it): its floor score is
        // its weighted score; the half-open factor only ranks it among the remotes that stay.
        var indexed = candidates.Select((step, index) => (step, index)).ToList();
        var local = indexed.FirstOrDefault(x => x.step.Kind == BackendKind.Local);
        var steps = new List<RouteStep>();
        foreach (var (step, index) in indexed.OrderByDescending(x => x.step.Score).ThenBy(x => x.index))
        {
            if (step.Kind == BackendKind.Local)
            {
                continue;
            }

            if (local.step is { } floor && !Beats(FloorScore(step), index, floor.Score, local.index))
            {
                exclusions.Add(new(step.Backend, ExclusionCode.BelowLocal,
                    $"scored {step.Score:0.000}, below the local model ({floor.Score:0.000}), which ends the plan")
                {
                    Score = step.Score,
                    Breakdown = step.Breakdown,
                });
                continue;
            }

            steps.Add(step);
        }

        if (local.step is { } localStep)
        {
            steps.Add(localStep);
        }

        return new RoutePlan
        {
            RequestedModel = requested,
            Privacy = privacy,
            Steps = steps,
            Exclusions = exclusions,
            EmptyReason = steps.Count == 0
                ? $"no backend allowed for {level} requests can serve model '{requested}' ({string.Join("; ", exclusions.Select(e => $"{e.Backend}: {e.Reason}"))})"
                : null,
            PolicyName = policy.Name,
            PolicyVersion = snapshot.Version,
        };
    }

    /// <summary>The score compared with the local model's: a half-open circuit's factor does not count there.</summary>
    private static double FloorScore(RouteStep step) =>
        step.Breakdown.Health.Circuit == CircuitState.HalfOpen ? step.Breakdown.Weighted * (step.Breakdown.Peer?.Factor ?? 1) : step.Score;

    /// <summary>
    /// A live mesh peer as a plan step: the same privacy, circuit and error-rate filters as a configured backend, plus
    /// trust level, reputation and model match; scored like any backend, times load × reputation × model match.
    /// </summary>
    private static RouteStep? PeerStep(
        PeerCandidate peer, RoutingSnapshot snapshot, IBackendHealth health, PrivacyRule rule, string level, string requested, bool isAuto,
        IReadOnlyDictionary<string, string>? alias, List<RouteExclusion> exclusions)
    {
        var policy = snapshot.Policy;
        var backend = peer.ToBackend();
        if (policy.BackendOverrides.FirstOrDefault(o => string.Equals(o.Backend, backend.Name, StringComparison.OrdinalIgnoreCase)) is { } o)
        {
            backend = o.ApplyTo(backend);
        }

        if (PrivacyExclusion(backend, rule, level) is { } privacyExclusion)
        {
            exclusions.Add(privacyExclusion);
            return null;
        }

        if (PeerModelMatch(peer, requested, isAuto, alias) is not { } match)
        {
            exclusions.Add(new(backend.Name, ExclusionCode.ModelNotOffered, isAuto
                ? "model 'auto' is not sent to peers (name a model, or name@sha256:digest)"
                : $"advertises neither '{requested}' nor an alias of it"));
            return null;
        }

        if (peer.Reputation < RouterDefaults.PeerMinReputation)
        {
            exclusions.Add(new(backend.Name, ExclusionCode.LowReputation,
                $"reputation {peer.Reputation:0.00} is below {RouterDefaults.PeerMinReputation:0.00} (failed verifications or invalid receipts)"));
            return null;
        }

        var live = health.Get(backend.Name);
        if (live.Circuit == CircuitState.Open)
        {
            exclusions.Add(new(backend.Name, ExclusionCode.CircuitOpen, "circuit open after recent failures"));
            return null;
        }

        if (live.Circuit != CircuitState.HalfOpen && live.Samples >= policy.Health.MinSamples && live.ErrorRate >= policy.Health.ExcludeErrorRate)
        {
            exclusions.Add(new(backend.Name, ExclusionCode.ErrorRate,
                $"error rate {live.ErrorRate:0.00} over {live.Samples} recent calls is at or above {policy.Health.ExcludeErrorRate:0.00}"));
            return null;
        }

        var load = (peer.ActiveSequences + peer.QueuedSequences) / (double)Math.Max(peer.Slots, 1);
        var loadFactor = 1 / (1 + load);
        var terms = new PeerScore(load, loadFactor, peer.Reputation, match.Match, loadFactor * peer.Reputation * match.Match);
        var breakdown = Score(backend, live, policy, isLocal: false) with { Peer = terms };
        return new RouteStep(backend.Name, BackendKind.Peer, match.Model, breakdown.Weighted * breakdown.HealthFactor * terms.Factor, breakdown, match.ViaAlias)
        {
            Config = backend,
        };
    }

    /// <summary>
    /// Which advertised model serves <paramref name="requested"/>: <c>name@sha256:hex</c> or <c>sha256:hex</c> must match the
    /// digest (term 1.0); a policy alias for this peer (or for <c>peers</c>) or a plain name matches by name (term
    /// <see cref="RouterDefaults.PeerNameOnlyMatch"/>: a name says nothing about which file).
    /// </summary>
    internal static (string Model, bool ViaAlias, double Match)? PeerModelMatch(
        PeerCandidate peer, string requested, bool isAuto, IReadOnlyDictionary<string, string>? alias)
    {
        if (isAuto)
        {
            return null;
        }

        string? name = requested;
        string? digest = null;
        var at = requested.IndexOf("@sha256:", StringComparison.OrdinalIgnoreCase);
        if (at >= 0)
        {
            name = requested[..at];
            digest = requested[(at + 8)..];
        }
        else if (requested.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
        {
            name = null;
            digest = requested[7..];
        }

        if (digest is not null)
        {
            var byDigest = peer.Models.FirstOrDefault(m => string.Equals(m.Digest, digest, StringComparison.OrdinalIgnoreCase)
                && (name is null || string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase)));
            return byDigest is null ? null : (byDigest.Name, false, 1.0);
        }

        if (alias is not null && (alias.TryGetValue(peer.Backend, out var target) || alias.TryGetValue(RouterDefaults.PeersAliasKey, out target))
            && peer.Models.FirstOrDefault(m => string.Equals(m.Name, target, StringComparison.OrdinalIgnoreCase)) is { } aliased)
        {
            return (aliased.Name, true, RouterDefaults.PeerNameOnlyMatch);
        }

        var byName = peer.Models.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));
        return byName is null ? null : (byName.Name, false, RouterDefaults.PeerNameOnlyMatch);
    }

    /// <summary>Higher score wins; ties go to the backend listed first in the config (local is listed first).</summary>
    private static bool Beats(double score, int index, double otherScore, int otherIndex) =>
        score > otherScore || (score == otherScore && index < otherIndex);

    private static RouteExclusion? PrivacyExclusion(BackendConfig backend, PrivacyRule rule, string level)
    {
        if (!rule.Allow.Contains(backend.Class))
        {
            var allowed = string.Join(", ", rule.Allow.Order().Select(c => c.Name()));
            return new(backend.Name, ExclusionCode.PrivacyClass,
                $"{level} requests may go to [{allowed}] only; this is a {backend.Class.Name()} backend");
        }

        if (backend.Class == BackendClass.Local)
        {
            return null;
        }

        if (backend.Class == BackendClass.Peer)
        {
            var trust = backend.PeerTrust ?? (backend.Trusted ? PeerTrust.Trusted : PeerTrust.Community);
            if (!rule.Peers.Contains(trust))
            {
                var allowed = string.Join(", ", rule.Peers.Order().Reverse().Select(t => t.ToString().ToLowerInvariant()));
                return new(backend.Name, ExclusionCode.UntrustedPeer,
                    $"{level} requests may go to [{allowed}] peers only; this peer is {trust.ToString().ToLowerInvariant()}");
            }
        }

        if (backend.RetainsData && !rule.AllowRetention)
        {
            return new(backend.Name, ExclusionCode.DataRetention, $"it retains data (or does not declare retainsData: false), not allowed for {level} requests");
        }

        if (!rule.Jurisdictions.Contains(RouterDefaults.Wildcard)
            && (backend.Jurisdiction is null || !rule.Jurisdictions.Contains(backend.Jurisdiction, StringComparer.OrdinalIgnoreCase)))
        {
            return new(backend.Name, ExclusionCode.Jurisdiction,
                $"jurisdiction '{backend.Jurisdiction ?? "unknown"}' is not in [{string.Join(", ", rule.Jurisdictions)}] for {level} requests");
        }

        return null;
    }

    private static (string Model, bool ViaAlias)? UpstreamModel(
        BackendConfig backend, string requested, bool isAuto, IReadOnlyDictionary<string, string>? alias, ILocalModelDirectory localModels)
    {
        var isLocal = backend.Kind == BackendKind.Local;
        if (isAuto)
        {
            if (isLocal)
            {
                return localModels.DefaultModel is { } localDefault ? (localDefault, false) : null;
            }

            var concrete = backend.DefaultModel ?? backend.Models.FirstOrDefault(m => m != RouterDefaults.Wildcard);
            return (concrete ?? requested, false);
        }

        // An explicit alias wins over a direct offer (it is the operator's stated mapping).
        if (alias is not null && alias.TryGetValue(backend.Name, out var target))
        {
            if (!isLocal)
            {
                return (target, true);
            }

            if (localModels.CanServe(target))
            {
                return (target, true);
            }
        }

        if (isLocal)
        {
            return localModels.CanServe(requested) ? (requested, false) : null;
        }

        return backend.Offers(requested) ? (requested, false) : null;
    }

    private static ScoreBreakdown Score(BackendConfig backend, BackendHealthSnapshot live, RoutingPolicy policy, bool isLocal)
    {
        var weights = policy.Weights;
        var norm = policy.Normalisation;
        var measured = live.MeanLatency is not null;
        var latencyMs = live.MeanLatency?.TotalMilliseconds ?? backend.LatencyMs;
        var quality = backend.Quality;
        var cost = 1 - Math.Min(backend.CostPerMillionTokens / norm.CostPerMillionTokens, 1);
        var latency = 1 - Math.Min(latencyMs / norm.LatencyMs, 1);
        var sovereignty = backend.Sovereignty;
        var weighted = ((weights.Quality * quality) + (weights.Cost * cost) + (weights.Latency * latency) + (weights.Sovereignty * sovereignty)) / weights.Sum;

        var factor = 1.0;
        if (!isLocal)
        {
            if (live.Circuit == CircuitState.HalfOpen)
            {
                // The circuit decides while half-open; the window's failures are the ones that opened it.
                factor *= policy.Health.HalfOpenFactor;
            }
            else if (live.Samples >= policy.Health.MinSamples)
            {
                factor *= 1 - live.ErrorRate;
            }
        }

        return new ScoreBreakdown(quality, cost, latency, sovereignty, weighted, factor, latencyMs, measured, live);
    }
}
