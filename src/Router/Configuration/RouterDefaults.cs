namespace InferenceMesh.Router.Configuration;

/// <summary>
/// Every default of the router in one place. The local and remote metadata defaults are chosen so
/// that, with the default weights, a cloud backend must declare a quality above 0.8 (at the
/// default cloud sovereignty 0.2) to be preferred over the local model for public requests; the
/// arithmetic is in src/Router/README.md.
/// </summary>
public static class RouterDefaults
{
    /// <summary>The name of the implicit local backend.</summary>
    public const string LocalBackendName = "local";

    /// <summary>The model name that lets the router choose.</summary>
    public const string AutoModel = "auto";

    /// <summary>The policy used when config names none.</summary>
    public const string PolicyName = "default";

    /// <summary>The wildcard model and jurisdiction entry.</summary>
    public const string Wildcard = "*";

    // Local backend: a small model on this machine. Middling quality, fully sovereign, free, slowish on CPU.
    public const double LocalQuality = 0.5;
    public const double LocalSovereignty = 1.0;
    public const double LocalCostPerMillionTokens = 0.0;
    public const double LocalLatencyMs = 2000;

    // Cloud backends (openai, anthropic) that do not say otherwise: unknown means "assume the worse case" for privacy.
    public const double CloudQuality = 0.7;
    public const double CloudSovereignty = 0.2;
    public const double CloudCostPerMillionTokens = 1.0;
    public const double CloudLatencyMs = 1000;
    public const bool CloudRetainsData = true;

    // Peers: another machine on the mesh.
    public const double PeerQuality = 0.5;
    public const double PeerSovereignty = 0.6;
    public const double PeerCostPerMillionTokens = 0.0;
    public const double PeerLatencyMs = 1500;
    public const bool PeerRetainsData = true;

    /// <summary>A mesh peer below this reputation is left out of plans (<c>LowReputation</c>).</summary>
    public const double PeerMinReputation = 0.3;

    /// <summary>Model-match term of a peer matched by name only (a named digest that matches scores 1).</summary>
    public const double PeerNameOnlyMatch = 0.9;

    /// <summary>An alias entry under this key applies to every mesh peer.</summary>
    public const string PeersAliasKey = "peers";

    // Policy defaults (used when a policy file leaves a key out).
    public const double WeightQuality = 0.5;
    public const double WeightCost = 0.15;
    public const double WeightLatency = 0.15;
    public const double WeightSovereignty = 0.2;
    public const double CostCeilingPerMillionTokens = 30;
    public const double LatencyCeilingMs = 10_000;
    public const int HealthMinSamples = 5;
    public const double HealthExcludeErrorRate = 0.5;
    public const double HealthHalfOpenFactor = 0.5;

    // Health tracking and reload.
    public static readonly TimeSpan HealthWindow = TimeSpan.FromSeconds(60);
    public const int HealthMaxSamples = 200;
    public static readonly TimeSpan ReloadDebounce = TimeSpan.FromMilliseconds(250);

    /// <summary>Backend names: letters, digits, '-', '_', '.', 1 to 64 characters.</summary>
    public static bool IsValidBackendName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
