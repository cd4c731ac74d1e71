using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Health;
using InferenceMesh.Router.Policies;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Router.Routing;

/// <summary>The default <see cref="IRouter"/>: privacy as a hard filter, then weighted scores, then the local floor.</summary>
internal sealed partial class BackendRouter(
    IRoutingConfigProvider config,
    IBackendHealth health,
    ILocalModelDirectory localModels,
    ILogger<BackendRouter> logger) : IRouter
{
    public RoutePlan Route(RouteRequest request)
    {
        var plan = Plan(config.Current, health, localModels, request);
        if (plan.IsEmpty)
        {
            Log.EmptyPlan(logger, plan.Privacy.Level, plan.RequestedModel, plan.Exclusions.Count);
        }
        else
        {
            Log.Planned(logger, plan.Privacy.Level, plan.RequestedModel, string.Join(" > ", plan.Steps.Select(s => s.Backend)), plan.Exclusions.Count);
        }

        return plan;
    }

    /// <summary>The routing decision as a pure function of its inputs (also used by config check).</summary>
    internal static RoutePlan Plan(RoutingSnapshot snapshot, IBackendHealth health, ILocalModelDirectory localModels, RouteRequest request)
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

            var live = health.Get(backend.Name);
            // The local engine is the floor: health demotes nothing there, the executor has nowhere else to go.
            if (!isLocal && live.Circuit == CircuitState.Open)
            {
                exclusions.Add(new(backend.Name, ExclusionCode.CircuitOpen, "circuit open after recent failures"));
                continue;
            }

            if (!isLocal && live.Samples >= policy.Health.MinSamples && live.ErrorRate >= policy.Health.ExcludeErrorRate)
            {
                exclusions.Add(new(backend.Name, ExclusionCode.ErrorRate,
                    $"error rate {live.ErrorRate:0.00} over {live.Samples} recent calls is at or above {policy.Health.ExcludeErrorRate:0.00}"));
                continue;
            }

            var breakdown = Score(backend, live, policy, isLocal);
            candidates.Add(new RouteStep(backend.Name, backend.Kind, upstream.Model, breakdown.Weighted * breakdown.HealthFactor, breakdown, upstream.ViaAlias));
        }

        // Highest score first; ties keep config order (local first among equals, since it is listed first).
        var ordered = candidates.Select((step, index) => (step, index))
            .OrderByDescending(x => x.step.Score)
            .ThenBy(x => x.index)
            .Select(x => x.step)
            .ToList();

        var steps = new List<RouteStep>();
        RouteStep? local = null;
        foreach (var step in ordered)
        {
            if (local is not null)
            {
                exclusions.Add(new(step.Backend, ExclusionCode.BelowLocal,
                    $"scored {step.Score:0.000}, below the local model ({local.Score:0.000}), which ends the plan")
                {
                    Score = step.Score,
                    Breakdown = step.Breakdown,
                });
                continue;
            }

            steps.Add(step);
            if (step.Kind == BackendKind.Local)
            {
                local = step;
            }
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

        if (backend.Class == BackendClass.Peer && rule.TrustedPeersOnly && !backend.Trusted)
        {
            return new(backend.Name, ExclusionCode.UntrustedPeer, $"{level} requests may go to trusted peers only");
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
            if (live.Samples >= policy.Health.MinSamples)
            {
                factor *= 1 - live.ErrorRate;
            }

            if (live.Circuit == CircuitState.HalfOpen)
            {
                factor *= policy.Health.HalfOpenFactor;
            }
        }

        return new ScoreBreakdown(quality, cost, latency, sovereignty, weighted, factor, latencyMs, measured, live);
    }
}
