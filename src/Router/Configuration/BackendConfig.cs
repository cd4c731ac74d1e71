namespace InferenceMesh.Router.Configuration;

/// <summary>
/// One backend as config (and the policy's per-backend overrides) describe it. Immutable. Numbers
/// the file leaves out take the defaults of its kind (<see cref="RouterDefaults"/>).
/// </summary>
public sealed record BackendConfig
{
    /// <summary>Unique name, used in plans, health and policies. Required.</summary>
    public required string Name { get; init; }

    /// <summary>Protocol. Required (config key <c>type</c>).</summary>
    public required BackendKind Kind { get; init; }

    /// <summary>Where the class rules of a policy put this backend.</summary>
    public BackendClass Class => Kind.Class();

    /// <summary>Base address (e.g. http://127.0.0.1:9101/v1). Required for remote kinds, absent for local.</summary>
    public Uri? BaseUrl { get; init; }

    /// <summary>Name of the environment variable that holds the API key. The default value is null.</summary>
    public string? ApiKeyEnv { get; init; }

    /// <summary>Path of a file whose content (trimmed) is the API key; relative paths are resolved against the config file. The default value is null.</summary>
    public string? ApiKeyFile { get; init; }

    /// <summary>Answer quality, 0 to 1. Default: 0.5 local, 0.7 cloud, 0.5 peer.</summary>
    public double Quality { get; init; }

    /// <summary>How much the data stays under the operator's control, 0 to 1. Default: 1.0 local, 0.2 cloud, 0.6 peer.</summary>
    public double Sovereignty { get; init; }

    /// <summary>Price in currency units per million tokens, at least 0. Default: 0 local, 1.0 cloud, 0 peer.</summary>
    public double CostPerMillionTokens { get; init; }

    /// <summary>Expected latency in ms, used until live health has measurements. Default: 2000 local, 1000 cloud, 1500 peer.</summary>
    public double LatencyMs { get; init; }

    /// <summary>Legal jurisdiction of the provider (e.g. "EU", "US"); null when unknown. The default value is null.</summary>
    public string? Jurisdiction { get; init; }

    /// <summary>Whether the provider keeps prompts. Default: false local, true (assume the worse) cloud and peer.</summary>
    public bool RetainsData { get; init; }

    /// <summary>For peers: whether this node trusts it (policies can require trusted peers). The default value is false.</summary>
    public bool Trusted { get; init; }

    /// <summary>For mesh peers (not config): the trust level this node gives it. The default value is null.</summary>
    public Routing.PeerTrust? PeerTrust { get; init; }

    /// <summary>For mesh peers (not config): the node id whose certificate must answer. The default value is null.</summary>
    public string? PeerNodeId { get; init; }

    /// <summary>Model names offered; "*" offers any name. Ignored for local (the local model directory decides). The default value is ["*"].</summary>
    public IReadOnlyList<string> Models { get; init; } = [RouterDefaults.Wildcard];

    /// <summary>The upstream model used for <c>model: "auto"</c>; null sends the first concrete model of <see cref="Models"/>, else "auto" unchanged. The default value is null.</summary>
    public string? DefaultModel { get; init; }

    /// <summary>File and line this backend was declared at, for messages; null for the implicit local backend.</summary>
    public string? SourceFile { get; init; }

    public int SourceLine { get; init; }

    public int SourceColumn { get; init; }

    /// <summary>Whether <paramref name="model"/> is offered directly (not through an alias). Case-insensitive.</summary>
    public bool Offers(string model) =>
        Models.Any(m => m == RouterDefaults.Wildcard || string.Equals(m, model, StringComparison.OrdinalIgnoreCase));

    /// <summary>The implicit local backend with its defaults.</summary>
    public static BackendConfig DefaultLocal() => WithKindDefaults(RouterDefaults.LocalBackendName, BackendKind.Local);

    /// <summary>A backend of <paramref name="kind"/> with that kind's default metadata.</summary>
    public static BackendConfig WithKindDefaults(string name, BackendKind kind) => kind switch
    {
        BackendKind.Local => new BackendConfig
        {
            Name = name,
            Kind = kind,
            Quality = RouterDefaults.LocalQuality,
            Sovereignty = RouterDefaults.LocalSovereignty,
            CostPerMillionTokens = RouterDefaults.LocalCostPerMillionTokens,
            LatencyMs = RouterDefaults.LocalLatencyMs,
            RetainsData = false,
            Models = [],
        },
        BackendKind.Peer => new BackendConfig
        {
            Name = name,
            Kind = kind,
            Quality = RouterDefaults.PeerQuality,
            Sovereignty = RouterDefaults.PeerSovereignty,
            CostPerMillionTokens = RouterDefaults.PeerCostPerMillionTokens,
            LatencyMs = RouterDefaults.PeerLatencyMs,
            RetainsData = RouterDefaults.PeerRetainsData,
        },
        _ => new BackendConfig
        {
            Name = name,
            Kind = kind,
            Quality = RouterDefaults.CloudQuality,
            Sovereignty = RouterDefaults.CloudSovereignty,
            CostPerMillionTokens = RouterDefaults.CloudCostPerMillionTokens,
            LatencyMs = RouterDefaults.CloudLatencyMs,
            RetainsData = RouterDefaults.CloudRetainsData,
        },
    };
}
