using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.Routing;

/// <summary>The body of POST /v1/route. Never carries prompt text: findings are kinds and spans only.</summary>
public sealed record RouteResponse(RouteClassification? Classification, RoutePrivacy Privacy, RoutePlanWire Plan);

/// <summary>Null <see cref="RouteResponse.Classification"/> means the classifier failed and the request counts as confidential.</summary>
public sealed record RouteClassification(string Privacy, string DetectorPrivacy, bool Unsure, IReadOnlyList<RouteFinding> Findings, RouteModelPrediction? Model);

/// <summary>A detector hit: kind and UTF-16 span in the concatenated message contents (joined with '\n').</summary>
public sealed record RouteFinding(string Kind, int Start, int Length);

public sealed record RouteModelPrediction(string Privacy, float Confidence, string Task, string Complexity);

public sealed record RoutePrivacy(string Level, string ClassifiedLevel, bool CallerLoweringRefused, IReadOnlyList<string> Reasons);

public sealed record RoutePlanWire(
    string RequestedModel,
    string Policy,
    long PolicyVersion,
    string? EmptyReason,
    IReadOnlyList<RouteStepWire> Steps,
    IReadOnlyList<RouteExclusionWire> Exclusions);

public sealed record RouteStepWire(string Backend, string Type, string Model, bool ViaAlias, double Score, RouteBreakdown Breakdown);

public sealed record RouteExclusionWire(string Backend, string Code, string Reason, double? Score, RouteBreakdown? Breakdown);

public sealed record RouteBreakdown(
    double Quality, double Cost, double Latency, double Sovereignty, double Weighted, double HealthFactor, double LatencyMs, bool LatencyMeasured,
    RoutePeerScore? Peer = null);

/// <summary>A mesh peer's extra terms: score = weighted × health factor × factor (factor = load factor × reputation × model match).</summary>
public sealed record RoutePeerScore(double Load, double LoadFactor, double Reputation, double ModelMatch, double Factor);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(RouteResponse))]
public sealed partial class RouteJsonContext : JsonSerializerContext;
