using InferenceMesh.Classifier;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Router.Policies;

/// <summary>
/// One consistent view of config and policy: the effective backends (policy overrides applied),
/// the policy, and where they came from. Immutable; replaced whole on reload.
/// </summary>
public sealed record RoutingSnapshot
{
    public required RoutingConfig Config { get; init; }

    public required RoutingPolicy Policy { get; init; }

    /// <summary>The effective backends: local first, then the remotes in config order.</summary>
    public required IReadOnlyList<BackendConfig> Backends { get; init; }

    /// <summary>Things that are valid but probably mistakes (e.g. an alias naming an unknown backend).</summary>
    public IReadOnlyList<ConfigError> Warnings { get; init; } = [];

    /// <summary>The files this snapshot was read from (watched for changes).</summary>
    public IReadOnlyList<string> Files { get; init; } = [];

    /// <summary>1 for the start-up load, +1 per successful reload.</summary>
    public long Version { get; init; } = 1;

    public DateTimeOffset LoadedAt { get; init; }

    public BackendConfig Local => Backends[0];
}

/// <summary>Loads config and policy together into a <see cref="RoutingSnapshot"/>.</summary>
public static class RoutingSnapshotLoader
{
    public static LoadResult<RoutingSnapshot> Load(RouterOptions options, DateTimeOffset now, long version = 1)
    {
        var files = new List<string>();
        RoutingConfig config;
        if (options.ConfigPath is { } configPath)
        {
            var loaded = RoutingConfigLoader.Load(configPath, options.ForeignConfigSections);
            files.Add(Path.GetFullPath(configPath));
            if (!loaded.IsValid)
            {
                return LoadResult<RoutingSnapshot>.Failed(loaded.Errors);
            }

            config = loaded.Value!;
        }
        else
        {
            config = new RoutingConfig();
        }

        var (policyPath, pathError) = ResolvePolicyPath(config, options.PoliciesDirectory);
        if (pathError is not null)
        {
            return LoadResult<RoutingSnapshot>.Failed([pathError]);
        }

        RoutingPolicy policy;
        if (policyPath is null)
        {
            policy = PolicyLoader.BuiltIn();
            files.Add(Path.GetFullPath(Path.Combine(options.PoliciesDirectory, RouterDefaults.PolicyName + ".yaml")));
        }
        else
        {
            files.Add(policyPath);
            var loaded = PolicyLoader.Load(policyPath);
            if (!loaded.IsValid)
            {
                return LoadResult<RoutingSnapshot>.Failed(loaded.Errors);
            }

            policy = loaded.Value!;
        }

        return LoadResult<RoutingSnapshot>.Ok(Compose(config, policy, files, now, version));
    }

    /// <summary>Applies the policy's backend overrides and collects warnings about names that match nothing.</summary>
    public static RoutingSnapshot Compose(RoutingConfig config, RoutingPolicy policy, IReadOnlyList<string> files, DateTimeOffset now, long version)
    {
        var warnings = new List<ConfigError>();
        var backends = config.AllBackends.ToList();
        var policyFile = policy.SourceFile ?? PolicyLoader.BuiltInSource;
        foreach (var o in policy.BackendOverrides)
        {
            var index = backends.FindIndex(b => string.Equals(b.Name, o.Backend, StringComparison.OrdinalIgnoreCase));
            if (index < 0 && o.Backend.StartsWith("peer-", StringComparison.OrdinalIgnoreCase))
            {
                continue; // a mesh peer's name (peer-<first two groups of its id>): applied when it is a candidate
            }

            if (index < 0)
            {
                warnings.Add(new ConfigError(policyFile, o.Line, 1, $"backends: '{o.Backend}' is not a configured backend; its metadata is ignored"));
                continue;
            }

            backends[index] = o.ApplyTo(backends[index]);
        }

        foreach (var (model, targets) in policy.Aliases)
        {
            foreach (var backend in targets.Keys.Where(name => !IsPeerName(name) && !backends.Any(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase))))
            {
                warnings.Add(new ConfigError(policyFile, 0, 0, $"alias '{model}' names backend '{backend}', which is not configured"));
            }
        }

        warnings.AddRange(PrivacyWarnings(policy, policyFile));
        return new RoutingSnapshot
        {
            Config = config,
            Policy = policy,
            Backends = backends,
            Warnings = warnings,
            Files = files,
            Version = version,
            LoadedAt = now,
        };
    }

    /// <summary>
    /// Valid but against the product's promise that confidential and restricted prompts stay on this machine (or with
    /// trusted peers): said at start, on every reload and by <c>config check</c>, not refused, as a policy may mean it.
    /// </summary>
    private static IEnumerable<ConfigError> PrivacyWarnings(RoutingPolicy policy, string policyFile)
    {
        foreach (var level in new[] { PrivacyLevel.Confidential, PrivacyLevel.Restricted })
        {
            var rule = policy.RuleFor(level);
            var name = PrivacyHeader.Format(level);
            if (rule.Allow.Contains(BackendClass.Cloud))
            {
                yield return new ConfigError(policyFile, rule.Line, 1, $"levels.{name}.allow includes cloud: {name} requests may be sent to cloud backends");
            }

            if (LetsUntrustedPeersIn(rule))
            {
                yield return new ConfigError(policyFile, rule.Line, 1, $"levels.{name}.peers includes untrusted peers: {name} requests may be sent to community or open mesh peers");
            }
        }

        var unsure = policy.RuleFor(policy.UnsureAs);
        if (policy.UnsureAs < PrivacyLevel.Confidential && (unsure.Allow.Contains(BackendClass.Cloud) || LetsUntrustedPeersIn(unsure)))
        {
            yield return new ConfigError(policyFile, policy.UnsureAsLine, 1,
                $"unsureAs is {PrivacyHeader.Format(policy.UnsureAs)}: a prompt the classifier is unsure about may be sent to clouds or untrusted peers");
        }

        static bool LetsUntrustedPeersIn(PrivacyRule rule) => rule.Allow.Contains(BackendClass.Peer) && !rule.TrustedPeersOnly;
    }

    private static bool IsPeerName(string name) =>
        name.StartsWith("peer-", StringComparison.OrdinalIgnoreCase) || string.Equals(name, RouterDefaults.PeersAliasKey, StringComparison.OrdinalIgnoreCase);

    /// <summary>null path = the built-in default (the policies folder has no default.yaml).</summary>
    internal static (string? Path, ConfigError? Error) ResolvePolicyPath(RoutingConfig config, string policiesDirectory)
    {
        var policy = config.Policy;
        var isPath = policy.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase)
            || policy.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)
            || policy.Contains('/') || policy.Contains('\\');
        if (isPath)
        {
            var baseDir = config.SourceFile is { } source ? Path.GetDirectoryName(source)! : Directory.GetCurrentDirectory();
            var path = Path.GetFullPath(Path.Combine(baseDir, policy));
            return File.Exists(path)
                ? (path, null)
                : (null, new ConfigError(config.SourceFile ?? path, config.PolicyLine, 1, $"policy file '{path}' does not exist"));
        }

        var named = Path.GetFullPath(Path.Combine(policiesDirectory, policy + ".yaml"));
        if (File.Exists(named))
        {
            return (named, null);
        }

        if (string.Equals(policy, RouterDefaults.PolicyName, StringComparison.Ordinal))
        {
            return (null, null);
        }

        return (null, new ConfigError(config.SourceFile ?? named, config.PolicyLine, 1, $"policy '{policy}' not found (looked for '{named}')"));
    }
}
