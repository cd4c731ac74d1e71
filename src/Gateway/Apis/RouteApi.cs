using InferenceMesh.Classifier;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Routing;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Routing;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>
/// POST /v1/route: the dry run. Takes a chat-completions body and returns the classification (level, unsure,
/// findings as kind + start + length, never the matched text), the privacy decision, the plan with every
/// score term and the exclusions with their reasons. Generates nothing and calls no backend.
/// </summary>
internal static class RouteApi
{
    public static IEndpointRouteBuilder MapRouteApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/route", ExplainAsync);
        return app;
    }

    public static async Task<IResult> ExplainAsync(HttpContext http, [FromServices] ChatRouting routing)
    {
        BackendHeader.Set(http, BackendDefaults.NoBackend);
        var routed = await routing.ReadAndRouteAsync(http);
        if (routed.Error is { } error) return error;

        var (_, classification, plan) = routed.Value!;
        return new JsonOk<RouteResponse>(ToWire(classification, plan), RouteJsonContext.Default.RouteResponse);
    }

    public static RouteResponse ToWire(Classification? classification, RoutePlan plan) => new(
        classification is null ? null : new RouteClassification(
            PrivacyHeader.Format(classification.Privacy),
            PrivacyHeader.Format(classification.DetectorPrivacy),
            classification.Unsure,
            [.. classification.Findings.Select(f => new RouteFinding(KindName(f.Kind), f.Start, f.Length))],
            classification.Model is { } m
                ? new RouteModelPrediction(PrivacyHeader.Format(m.Privacy), m.PrivacyConfidence, m.Task.ToString().ToLowerInvariant(), m.Complexity.ToString().ToLowerInvariant())
                : null),
        new RoutePrivacy(
            PrivacyHeader.Format(plan.Privacy.Level),
            PrivacyHeader.Format(plan.Privacy.ClassifiedLevel),
            plan.Privacy.CallerLoweringRefused,
            plan.Privacy.Reasons),
        new RoutePlanWire(
            plan.RequestedModel,
            plan.PolicyName,
            plan.PolicyVersion,
            plan.EmptyReason,
            [.. plan.Steps.Select(s => new RouteStepWire(s.Backend, s.Kind.Name(), s.UpstreamModel, s.ViaAlias, s.Score, Breakdown(s.Breakdown)))],
            [.. plan.Exclusions.Select(e => new RouteExclusionWire(e.Backend, e.Code.ToString(), e.Reason, e.Score, e.Breakdown is { } b ? Breakdown(b) : null))]));

    private static RouteBreakdown Breakdown(ScoreBreakdown b) =>
        new(b.Quality, b.Cost, b.Latency, b.Sovereignty, b.Weighted, b.HealthFactor, b.LatencyMs, b.LatencyMeasured,
            b.Peer is { } p ? new RoutePeerScore(p.Load, p.LoadFactor, p.Reputation, p.ModelMatch, p.Factor) : null);

    private static string KindName(FindingKind kind) => kind.ToString();
}
