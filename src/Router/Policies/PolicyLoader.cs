using InferenceMesh.Classifier;
using InferenceMesh.Configuration;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Routing;
using YamlDotNet.RepresentationModel;

namespace InferenceMesh.Router.Policies;

/// <summary>Reads and validates policy YAML; every error names file, line and reason.</summary>
public static class PolicyLoader
{
    /// <summary>The source name of the built-in default policy (a copy of policies/default.yaml).</summary>
    public const string BuiltInSource = "embedded:default.yaml";

    private const string BuiltInResource = "InferenceMesh.Router.Policies.default.yaml";

    private static readonly string[] TopLevelKeys =
        ["name", "weights", "normalise", "levels", "unsureAs", "allowCallerLowering", "health", "aliases", "backends"];

    private static readonly string[] WeightKeys = ["quality", "cost", "latency", "sovereignty"];
    private static readonly string[] NormaliseKeys = ["costPerMillionTokens", "latencyMs"];
    private static readonly string[] LevelKeys = ["public", "internal", "confidential", "restricted"];
    private static readonly string[] RuleKeys = ["allow", "jurisdictions", "allowRetention", "peers"];
    private static readonly string[] HealthKeys = ["minSamples", "excludeErrorRate", "halfOpenFactor"];

    public static LoadResult<RoutingPolicy> Load(string path)
    {
        var fullPath = Path.GetFullPath(path);
        var (text, error) = BoundedTextFile.Read(fullPath, BoundedTextFile.ConfigMaxBytes);
        return text is null
            ? LoadResult<RoutingPolicy>.Failed([new ConfigError(fullPath, 0, 0, $"policy file {error}")])
            : Parse(fullPath, text);
    }

    /// <summary>The built-in safe default policy.</summary>
    public static RoutingPolicy BuiltIn()
    {
        using var stream = typeof(PolicyLoader).Assembly.GetManifestResourceStream(BuiltInResource)
            ?? throw new InvalidOperationException($"Resource '{BuiltInResource}' is missing from the router assembly.");
        using var reader = new StreamReader(stream);
        var result = Parse(BuiltInSource, reader.ReadToEnd());
        return result.Value ?? throw new InvalidOperationException("The built-in policy is invalid: " + string.Join("; ", result.Errors));
    }

    public static LoadResult<RoutingPolicy> Parse(string file, string text)
    {
        var (reader, root) = YamlReader.Parse(file, text);
        if (root is null)
        {
            if (reader.Errors.Count == 0)
            {
                reader.ErrorAt(0, 0, "the policy file is empty");
            }

            return LoadResult<RoutingPolicy>.Failed(reader.Errors);
        }

        if (reader.Mapping(root, "the policy") is not { } map)
        {
            return LoadResult<RoutingPolicy>.Failed(reader.Errors);
        }

        var policy = new RoutingPolicy { SourceFile = file, Name = Path.GetFileNameWithoutExtension(file) };
        foreach (var (key, _, value) in reader.Entries(map, "the policy", TopLevelKeys))
        {
            policy = key switch
            {
                "name" => reader.String(value, "name") is { Length: > 0 } name ? policy with { Name = name } : policy,
                "weights" => policy with { Weights = ReadWeights(reader, value) },
                "normalise" => policy with { Normalisation = ReadNormalisation(reader, value) },
                "levels" => policy with { Levels = ReadLevels(reader, value) },
                "unsureAs" => ReadLevel(reader, value, "unsureAs") is { } level ? policy with { UnsureAs = level, UnsureAsLine = (int)value.Start.Line } : policy,
                "allowCallerLowering" => reader.Bool(value, "allowCallerLowering") is { } lower ? policy with { AllowCallerLowering = lower } : policy,
                "health" => policy with { Health = ReadHealth(reader, value) },
                "aliases" => policy with { Aliases = ReadAliases(reader, value) },
                "backends" => policy with { BackendOverrides = ReadOverrides(reader, value) },
                _ => policy,
            };
        }

        return reader.Errors.Count == 0 ? LoadResult<RoutingPolicy>.Ok(policy) : LoadResult<RoutingPolicy>.Failed(reader.Errors);
    }

    private static ScoreWeights ReadWeights(YamlReader reader, YamlNode node)
    {
        var weights = new ScoreWeights();
        if (reader.Mapping(node, "weights") is not { } map)
        {
            return weights;
        }

        foreach (var (key, _, value) in reader.Entries(map, "weights", WeightKeys))
        {
            if (reader.Number(value, $"weights.{key}", 0, 1) is not { } w)
            {
                continue;
            }

            weights = key switch
            {
                "quality" => weights with { Quality = w },
                "cost" => weights with { Cost = w },
                "latency" => weights with { Latency = w },
                _ => weights with { Sovereignty = w },
            };
        }

        if (weights.Sum <= 0)
        {
            reader.Error(node, "weights must not all be 0");
        }

        return weights;
    }

    private static ScoreNormalisation ReadNormalisation(YamlReader reader, YamlNode node)
    {
        var result = new ScoreNormalisation();
        if (reader.Mapping(node, "normalise") is not { } map)
        {
            return result;
        }

        foreach (var (key, _, value) in reader.Entries(map, "normalise", NormaliseKeys))
        {
            if (reader.Number(value, $"normalise.{key}", 0.001, 1e9) is { } v)
            {
                result = key == "latencyMs" ? result with { LatencyMs = v } : result with { CostPerMillionTokens = v };
            }
        }

        return result;
    }

    private static IReadOnlyDictionary<PrivacyLevel, PrivacyRule> ReadLevels(YamlReader reader, YamlNode node)
    {
        var levels = new Dictionary<PrivacyLevel, PrivacyRule>(RoutingPolicy.DefaultLevels());
        if (reader.Mapping(node, "levels") is not { } map)
        {
            return levels;
        }

        foreach (var (key, _, value) in reader.Entries(map, "levels", LevelKeys))
        {
            var level = Enum.Parse<PrivacyLevel>(key, ignoreCase: true);
            levels[level] = ReadRule(reader, value, $"levels.{key}") with { Line = (int)value.Start.Line };
        }

        return levels;
    }

    private static PrivacyRule ReadRule(YamlReader reader, YamlNode node, string what)
    {
        var rule = new PrivacyRule();
        if (reader.Mapping(node, what) is not { } map)
        {
            return rule;
        }

        var sawAllow = false;
        foreach (var (key, _, value) in reader.Entries(map, what, RuleKeys))
        {
            switch (key)
            {
                case "allow":
                    sawAllow = true;
                    if (reader.StringList(value, $"{what}.allow") is not { } names)
                    {
                        break;
                    }

                    var classes = new HashSet<BackendClass>();
                    foreach (var name in names)
                    {
                        if (BackendKindNames.TryParseClass(name, out var backendClass))
                        {
                            classes.Add(backendClass);
                        }
                        else
                        {
                            reader.Error(value, $"unknown backend class '{name}' in {what}.allow (known classes: local, peer, cloud)");
                        }
                    }

                    rule = rule with { Allow = classes };
                    break;
                case "jurisdictions":
                    if (reader.StringList(value, $"{what}.jurisdictions") is { } jurisdictions)
                    {
                        rule = rule with { Jurisdictions = jurisdictions };
                    }

                    break;
                case "allowRetention":
                    if (reader.Bool(value, $"{what}.allowRetention") is { } retention)
                    {
                        rule = rule with { AllowRetention = retention };
                    }

                    break;
                case "peers":
                    rule = rule with { Peers = ReadPeers(reader, value, $"{what}.peers") };
                    break;
            }
        }

        if (!sawAllow)
        {
            reader.Error(node, $"{what} needs an allow list (e.g. allow: [local])");
        }

        return rule;
    }

    /// <summary><c>trusted</c> (= [trusted]), <c>any</c> (= [trusted, community, open]) or a list of those levels.</summary>
    private static HashSet<PeerTrust> ReadPeers(YamlReader reader, YamlNode value, string what)
    {
        var levels = new HashSet<PeerTrust>();
        IReadOnlyList<string>? names = value is YamlScalarNode scalar
            ? scalar.Value switch
            {
                "any" => ["trusted", "community", "open"],
                _ => [scalar.Value ?? string.Empty],
            }
            : reader.StringList(value, what);
        foreach (var name in names ?? [])
        {
            switch (name)
            {
                case "trusted": levels.Add(PeerTrust.Trusted); break;
                case "community": levels.Add(PeerTrust.Community); break;
                case "open": levels.Add(PeerTrust.Open); break;
                default:
                    reader.Error(value, $"{what} must be 'trusted', 'any' or a list of trusted, community, open (got '{name}')");
                    break;
            }
        }

        return levels;
    }

    private static PrivacyLevel? ReadLevel(YamlReader reader, YamlNode node, string what)
    {
        var text = reader.String(node, what);
        if (text is not null && LevelKeys.Contains(text))
        {
            return Enum.Parse<PrivacyLevel>(text, ignoreCase: true);
        }

        reader.Error(node, $"{what} must be one of {string.Join(", ", LevelKeys)} (got '{text}')");
        return null;
    }

    private static HealthRules ReadHealth(YamlReader reader, YamlNode node)
    {
        var health = new HealthRules();
        if (reader.Mapping(node, "health") is not { } map)
        {
            return health;
        }

        foreach (var (key, _, value) in reader.Entries(map, "health", HealthKeys))
        {
            health = key switch
            {
                "minSamples" => reader.Integer(value, "health.minSamples", 1, 100_000) is { } n ? health with { MinSamples = n } : health,
                "excludeErrorRate" => reader.Number(value, "health.excludeErrorRate", 0.01, 1) is { } r ? health with { ExcludeErrorRate = r } : health,
                _ => reader.Number(value, "health.halfOpenFactor", 0, 1) is { } f ? health with { HalfOpenFactor = f } : health,
            };
        }

        return health;
    }

    private static IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> ReadAliases(YamlReader reader, YamlNode node)
    {
        var aliases = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.OrdinalIgnoreCase);
        if (reader.Mapping(node, "aliases") is not { } map)
        {
            return aliases;
        }

        foreach (var (model, keyNode, value) in reader.Entries(map, "aliases", known: null))
        {
            if (aliases.ContainsKey(model))
            {
                reader.Error(keyNode, $"duplicate alias '{model}' (alias names are case-insensitive)");
                continue;
            }

            if (reader.Mapping(value, $"aliases.{model}") is not { } targets)
            {
                continue;
            }

            var byBackend = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (backend, backendNode, target) in reader.Entries(targets, $"aliases.{model}", known: null))
            {
                if (!RouterDefaults.IsValidBackendName(backend))
                {
                    reader.Error(backendNode, $"'{backend}' is not a valid backend name");
                }
                else if (reader.String(target, $"aliases.{model}.{backend}") is { Length: > 0 } upstream)
                {
                    byBackend[backend] = upstream;
                }
                else
                {
                    reader.Error(target, $"aliases.{model}.{backend} must name the model that backend serves");
                }
            }

            aliases[model] = byBackend;
        }

        return aliases;
    }

    private static IReadOnlyList<BackendOverride> ReadOverrides(YamlReader reader, YamlNode node)
    {
        var overrides = new List<BackendOverride>();
        if (reader.Mapping(node, "backends") is not { } map)
        {
            return overrides;
        }

        foreach (var (name, keyNode, value) in reader.Entries(map, "backends", known: null))
        {
            if (reader.Mapping(value, $"backends.{name}") is not { } fields)
            {
                continue;
            }

            var o = new BackendOverride { Backend = name, Line = (int)keyNode.Start.Line };
            foreach (var (key, _, v) in reader.Entries(fields, $"backends.{name}", RoutingConfigLoader.MetadataKeys))
            {
                o = key switch
                {
                    "quality" => o with { Quality = reader.Number(v, "quality", 0, 1) },
                    "sovereignty" => o with { Sovereignty = reader.Number(v, "sovereignty", 0, 1) },
                    "costPerMillionTokens" => o with { CostPerMillionTokens = reader.Number(v, "costPerMillionTokens", 0, 1_000_000) },
                    "latencyMs" => o with { LatencyMs = reader.Number(v, "latencyMs", 0, 3_600_000) },
                    "jurisdiction" => o with { Jurisdiction = reader.String(v, "jurisdiction") },
                    "retainsData" => o with { RetainsData = reader.Bool(v, "retainsData") },
                    "trusted" => o with { Trusted = reader.Bool(v, "trusted") },
                    "models" => o with { Models = reader.StringList(v, "models") },
                    _ => o with { DefaultModel = reader.String(v, "defaultModel") },
                };
            }

            overrides.Add(o);
        }

        return overrides;
    }
}
