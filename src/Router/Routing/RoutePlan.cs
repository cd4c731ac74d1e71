using InferenceMesh.Classifier;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Health;

namespace InferenceMesh.Router.Routing;

/// <summary>
/// The router's answer: backends to try in order (the local model last whenever it can serve), and
/// every backend left out with its reason. Empty steps mean nothing allowed can serve: answer 503
/// and send nothing anywhere.
/// </summary>
public sealed record RoutePlan
{
    public required string RequestedModel { get; init; }

    public required PrivacyDecision Privacy { get; init; }

    public required IReadOnlyList<RouteStep> Steps { get; init; }

    public required IReadOnlyList<RouteExclusion> Exclusions { get; init; }

    /// <summary>Why the plan is empty; null when it is not.</summary>
    public string? EmptyReason { get; init; }

    /// <summary>The policy that decided, and the snapshot version (changes on reload).</summary>
    public required string PolicyName { get; init; }

    public long PolicyVersion { get; init; }

    public bool IsEmpty => Steps.Count == 0;
}

/// <summary>One backend to try.</summary>
/// <param name="Backend">The backend's name (config).</param>
/// <param name="Kind">Its protocol.</param>
/// <param name="UpstreamModel">The model name to send it (alias resolved; for local, the local model to run).</param>
/// <param name="Score">Weighted score times health factor, 0 to 1.</param>
/// <param name="Breakdown">How the score was made.</param>
/// <param name="ViaAlias">The requested name was mapped by a policy alias.</param>
public sealed record RouteStep(
    string Backend,
    BackendKind Kind,
    string UpstreamModel,
    double Score,
    ScoreBreakdown Breakdown,
    bool ViaAlias)
{
    /// <summary>The backend to call when it is not in the config (a live mesh peer); null for configured backends.</summary>
    public BackendConfig? Config { get; init; }
}

/// <summary>The terms of a score. Each term is 0 to 1, higher is better.</summary>
/// <param name="Quality">The backend's quality.</param>
/// <param name="Cost">1 − min(cost / cost ceiling, 1).</param>
/// <param name="Latency">1 − min(latency / latency ceiling, 1).</param>
/// <param name="Sovereignty">The backend's sovereignty.</param>
/// <param name="Weighted">Σ weight × term / Σ weights.</param>
/// <param name="HealthFactor">Closed circuit: 1 − error rate once enough samples; half-open circuit: the policy's half-open factor (ranks it among remotes, never below local).</param>
/// <param name="LatencyMs">The latency used: measured mean when there are successes in the window, else the declared one.</param>
/// <param name="LatencyMeasured">Whether <paramref name="LatencyMs"/> was measured.</param>
/// <param name="Health">The live health read.</param>
public sealed record ScoreBreakdown(
    double Quality,
    double Cost,
    double Latency,
    double Sovereignty,
    double Weighted,
    double HealthFactor,
    double LatencyMs,
    bool LatencyMeasured,
    BackendHealthSnapshot Health)
{
    /// <summary>Mesh peers only: load, reputation and model match, multiplied into the score.</summary>
    public PeerScore? Peer { get; init; }
}

/// <summary>The extra score terms of a mesh peer: score = weighted × health × <see cref="Factor"/>.</summary>
/// <param name="Load">(active + queued sequences) / slots, from its advert.</param>
/// <param name="LoadFactor">1 / (1 + load): 1 idle, 0.5 with every slot busy.</param>
/// <param name="Reputation">0 to 1, from verification and receipts.</param>
/// <param name="ModelMatch">1 when the digest was named and matched; 0.9 by name only.</param>
/// <param name="Factor">LoadFactor × Reputation × ModelMatch.</param>
public sealed record PeerScore(double Load, double LoadFactor, double Reputation, double ModelMatch, double Factor);

/// <summary>Why a backend is not in the plan.</summary>
public enum ExclusionCode
{
    /// <summary>Its class (local, peer, cloud) may not receive this privacy level.</summary>
    PrivacyClass,

    /// <summary>Its jurisdiction is not accepted for this privacy level.</summary>
    Jurisdiction,

    /// <summary>It retains data and this privacy level does not allow that.</summary>
    DataRetention,

    /// <summary>An untrusted peer, where trusted peers are required.</summary>
    UntrustedPeer,

    /// <summary>It offers neither the requested model nor an alias of it.</summary>
    ModelNotOffered,

    /// <summary>No local model is installed (local backend only).</summary>
    NoLocalModel,

    /// <summary>Its circuit is open.</summary>
    CircuitOpen,

    /// <summary>Its error rate is at or above the policy threshold.</summary>
    ErrorRate,

    /// <summary>It scored below the local model, which ends the plan.</summary>
    BelowLocal,

    /// <summary>A mesh peer whose reputation fell below the floor (failed verifications, invalid receipts).</summary>
    LowReputation,

    /// <summary>Its config names an API key (apiKeyEnv or apiKeyFile) that is missing, empty or unreadable.</summary>
    MissingApiKey,
}

/// <summary>Why a backend is not in the plan. Backends that were scored (left out for ranking below local) carry their score.</summary>
public sealed record RouteExclusion(string Backend, ExclusionCode Code, string Reason)
{
    public double? Score { get; init; }

    public ScoreBreakdown? Breakdown { get; init; }
}

/// <summary>Produces route plans. Thread-safe; reads the current policy snapshot on each call.</summary>
public interface IRouter
{
    RoutePlan Route(RouteRequest request);
}
