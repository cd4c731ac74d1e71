using InferenceMesh.Classifier;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Router.Policies;

/// <summary>A routing policy (one <c>policies/*.yaml</c> file). Immutable; every default is the safe one.</summary>
public sealed record RoutingPolicy
{
    /// <summary>The policy's name. The default value is "default".</summary>
    public string Name { get; init; } = RouterDefaults.PolicyName;

    /// <summary>Where it was loaded from ("embedded:default.yaml" for the built-in one).</summary>
    public string? SourceFile { get; init; }

    /// <summary>Scoring weights. The default value is quality 0.5, cost 0.15, latency 0.15, sovereignty 0.2.</summary>
    public ScoreWeights Weights { get; init; } = new();

    /// <summary>Cost and latency at or above which a backend scores 0 on that term.</summary>
    public ScoreNormalisation Normalisation { get; init; } = new();

    /// <summary>Rules per privacy level. A level the file leaves out allows local only.</summary>
    public IReadOnlyDictionary<PrivacyLevel, PrivacyRule> Levels { get; init; } = DefaultLevels();

    /// <summary>The level an unsure classification is raised to (at least). The default value is Confidential.</summary>
    public PrivacyLevel UnsureAs { get; init; } = PrivacyLevel.Confidential;

    /// <summary>The line of <c>unsureAs</c> in the policy file (0 when absent), for warnings.</summary>
    public int UnsureAsLine { get; init; }

    /// <summary>Whether the X-InferenceMesh-Privacy header may lower the level (never below the detectors'). The default value is false.</summary>
    public bool AllowCallerLowering { get; init; }

    /// <summary>Health thresholds. Defaults: min samples 5, exclude at error rate 0.5, half-open factor 0.5.</summary>
    public HealthRules Health { get; init; } = new();

    /// <summary>Model aliases: requested model name (case-insensitive) → backend name → upstream model. The default value is empty.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Aliases { get; init; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Per-backend metadata set by the policy, applied over the config's. The default value is empty.</summary>
    public IReadOnlyList<BackendOverride> BackendOverrides { get; init; } = [];

    public PrivacyRule RuleFor(PrivacyLevel level) => Levels.TryGetValue(level, out var rule) ? rule : PrivacyRule.LocalOnly;

    /// <summary>Local only for every level: what a level left out of a file means.</summary>
    public static IReadOnlyDictionary<PrivacyLevel, PrivacyRule> DefaultLevels() =>
        Enum.GetValues<PrivacyLevel>().ToDictionary(l => l, _ => PrivacyRule.LocalOnly);
}

/// <summary>Weights of the score terms, each 0 to 1; the score divides by their sum, which must be above 0.</summary>
public sealed record ScoreWeights
{
    /// <summary>The default value is 0.5.</summary>
    public double Quality { get; init; } = RouterDefaults.WeightQuality;

    /// <summary>The default value is 0.15.</summary>
    public double Cost { get; init; } = RouterDefaults.WeightCost;

    /// <summary>The default value is 0.15.</summary>
    public double Latency { get; init; } = RouterDefaults.WeightLatency;

    /// <summary>The default value is 0.2.</summary>
    public double Sovereignty { get; init; } = RouterDefaults.WeightSovereignty;

    public double Sum => Quality + Cost + Latency + Sovereignty;
}

/// <summary>How raw cost and latency become 0..1 terms: term = 1 − min(value / ceiling, 1). Fixed ceilings keep a backend's score independent of which other backends exist.</summary>
public sealed record ScoreNormalisation
{
    /// <summary>The default value is 30 per million tokens.</summary>
    public double CostPerMillionTokens { get; init; } = RouterDefaults.CostCeilingPerMillionTokens;

    /// <summary>The default value is 10000 ms.</summary>
    public double LatencyMs { get; init; } = RouterDefaults.LatencyCeilingMs;
}

/// <summary>Which backends may receive a request of one privacy level. A hard constraint.</summary>
public sealed record PrivacyRule
{
    /// <summary>Backend classes allowed. The default value is local only.</summary>
    public IReadOnlySet<BackendClass> Allow { get; init; } = new HashSet<BackendClass> { BackendClass.Local };

    /// <summary>Cloud jurisdictions accepted; "*" accepts any, including unknown. The default value is ["*"].</summary>
    public IReadOnlyList<string> Jurisdictions { get; init; } = [RouterDefaults.Wildcard];

    /// <summary>Whether a cloud or peer that retains data may receive it. The default value is false.</summary>
    public bool AllowRetention { get; init; }

    /// <summary>Peer trust levels that may receive it (policy <c>peers</c>: <c>trusted</c>, <c>any</c> or a list of trusted, community, open). The default value is [trusted].</summary>
    public IReadOnlySet<PeerTrust> Peers { get; init; } = new HashSet<PeerTrust> { PeerTrust.Trusted };

    /// <summary>The line of this level in the policy file (0 for a level left out), for warnings.</summary>
    public int Line { get; init; }

    /// <summary>Whether only trusted peers may receive it.</summary>
    public bool TrustedPeersOnly => !Peers.Contains(PeerTrust.Community) && !Peers.Contains(PeerTrust.Open);

    public static PrivacyRule LocalOnly { get; } = new();
}

/// <summary>How live health demotes or excludes a remote backend.</summary>
public sealed record HealthRules
{
    /// <summary>Outcomes in the window needed before the error rate counts. The default value is 5.</summary>
    public int MinSamples { get; init; } = RouterDefaults.HealthMinSamples;

    /// <summary>Error rate at or above which a backend is excluded. The default value is 0.5.</summary>
    public double ExcludeErrorRate { get; init; } = RouterDefaults.HealthExcludeErrorRate;

    /// <summary>Score factor while the circuit is half-open. The default value is 0.5.</summary>
    public double HalfOpenFactor { get; init; } = RouterDefaults.HealthHalfOpenFactor;
}

/// <summary>Backend metadata a policy sets over the config's; null fields leave the config's value.</summary>
public sealed record BackendOverride
{
    public required string Backend { get; init; }

    public int Line { get; init; }

    public double? Quality { get; init; }

    public double? Sovereignty { get; init; }

    public double? CostPerMillionTokens { get; init; }

    public double? LatencyMs { get; init; }

    public string? Jurisdiction { get; init; }

    public bool? RetainsData { get; init; }

    public bool? Trusted { get; init; }

    public IReadOnlyList<string>? Models { get; init; }

    public string? DefaultModel { get; init; }

    /// <summary>The backend with this override's fields applied. Models, default model and trust apply only where they mean something.</summary>
    public BackendConfig ApplyTo(BackendConfig backend) => backend with
    {
        Quality = Quality ?? backend.Quality,
        Sovereignty = Sovereignty ?? backend.Sovereignty,
        CostPerMillionTokens = CostPerMillionTokens ?? backend.CostPerMillionTokens,
        LatencyMs = LatencyMs ?? backend.LatencyMs,
        Jurisdiction = Jurisdiction ?? backend.Jurisdiction,
        RetainsData = RetainsData ?? backend.RetainsData,
        Trusted = backend.Kind == BackendKind.Peer ? Trusted ?? backend.Trusted : backend.Trusted,
        Models = backend.Kind == BackendKind.Local ? backend.Models : Models ?? backend.Models,
        DefaultModel = backend.Kind == BackendKind.Local ? backend.DefaultModel : DefaultModel ?? backend.DefaultModel,
    };
}
