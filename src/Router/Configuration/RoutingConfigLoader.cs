using InferenceMesh.Configuration;
using YamlDotNet.RepresentationModel;

namespace InferenceMesh.Router.Configuration;

/// <summary>
/// Reads the router's part of the gateway config YAML: <c>policy</c> and <c>backends</c>. Every
/// error names file, line and reason. Top-level sections owned by other components are accepted
/// only when the caller lists them in <c>foreignSections</c>; any other unknown key is an error.
/// </summary>
public static class RoutingConfigLoader
{
    internal static readonly string[] TopLevelKeys = ["policy", "backends"];

    internal static readonly string[] MetadataKeys =
        ["quality", "sovereignty", "costPerMillionTokens", "latencyMs", "jurisdiction", "retainsData", "trusted", "models", "defaultModel"];

    private static readonly string[] BackendKeys = ["name", "type", "baseUrl", "apiKeyEnv", "apiKeyFile", .. MetadataKeys];

    public static LoadResult<RoutingConfig> Load(string path, IReadOnlyCollection<string>? foreignSections = null)
    {
        var fullPath = Path.GetFullPath(path);
        var (text, error) = BoundedTextFile.Read(fullPath, BoundedTextFile.ConfigMaxBytes);
        return text is null
            ? LoadResult<RoutingConfig>.Failed([new ConfigError(fullPath, 0, 0, $"config file {error}")])
            : Parse(fullPath, text, foreignSections);
    }

    public static LoadResult<RoutingConfig> Parse(string file, string text, IReadOnlyCollection<string>? foreignSections = null)
    {
        var (reader, root) = YamlReader.Parse(file, text);
        var config = new RoutingConfig { SourceFile = file };
        if (root is null)
        {
            return reader.Errors.Count == 0 ? LoadResult<RoutingConfig>.Ok(config) : LoadResult<RoutingConfig>.Failed(reader.Errors);
        }

        if (reader.Mapping(root, "the config file") is not { } map)
        {
            return LoadResult<RoutingConfig>.Failed(reader.Errors);
        }

        var known = foreignSections is null ? TopLevelKeys : [.. TopLevelKeys, .. foreignSections];
        foreach (var (key, keyNode, value) in reader.Entries(map, "the config file", known))
        {
            switch (key)
            {
                case "policy":
                    if (reader.String(value, "policy") is { Length: > 0 } policy)
                    {
                        config = config with { Policy = policy, PolicyLine = (int)keyNode.Start.Line };
                    }
                    else
                    {
                        reader.Error(value, "policy must name a policy or a .yaml file");
                    }

                    break;
                case "backends":
                    config = ReadBackends(reader, value, config);
                    break;
            }
        }

        return reader.Errors.Count == 0 ? LoadResult<RoutingConfig>.Ok(config) : LoadResult<RoutingConfig>.Failed(reader.Errors);
    }

    private static RoutingConfig ReadBackends(YamlReader reader, YamlNode node, RoutingConfig config)
    {
        if (reader.Sequence(node, "backends") is not { } seq)
        {
            return config;
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var remotes = new List<BackendConfig>();
        BackendConfig? local = null;
        foreach (var item in seq.Children)
        {
            if (ReadBackend(reader, item) is not { } backend)
            {
                continue;
            }

            if (!names.Add(backend.Name))
            {
                reader.Error(item, $"duplicate backend name '{backend.Name}'");
                continue;
            }

            if (backend.Kind == BackendKind.Local)
            {
                if (local is not null)
                {
                    reader.Error(item, "only one backend may have type 'local'");
                    continue;
                }

                local = backend;
            }
            else
            {
                remotes.Add(backend);
            }
        }

        if (local is null && remotes.FirstOrDefault(r => string.Equals(r.Name, RouterDefaults.LocalBackendName, StringComparison.OrdinalIgnoreCase)) is { } clash)
        {
            reader.ErrorAt(clash.SourceLine, clash.SourceColumn, $"the name '{RouterDefaults.LocalBackendName}' is reserved for the local backend");
        }

        return config with { Local = local ?? config.Local, Remotes = remotes };
    }

    private static BackendConfig? ReadBackend(YamlReader reader, YamlNode node)
    {
        if (reader.Mapping(node, "a backend") is not { } map)
        {
            return null;
        }

        var entries = reader.Entries(map, "a backend", BackendKeys).ToList();
        var nameEntry = entries.FirstOrDefault(e => e.Key == "name");
        var typeEntry = entries.FirstOrDefault(e => e.Key == "type");
        var name = nameEntry.Value is null ? null : reader.String(nameEntry.Value, "name");
        if (name is null)
        {
            reader.Error(node, "a backend needs a name");
            return null;
        }

        if (!RouterDefaults.IsValidBackendName(name))
        {
            reader.Error(nameEntry.Value!, $"backend name '{name}' must be 1 to 64 letters, digits, '-', '_' or '.'");
            return null;
        }

        var type = typeEntry.Value is null ? null : reader.String(typeEntry.Value, "type");
        if (type is null)
        {
            reader.Error(node, $"backend '{name}' needs a type (local, openai, anthropic or peer)");
            return null;
        }

        if (!BackendKindNames.TryParseKind(type, out var kind))
        {
            reader.Error(typeEntry.Value!, $"unknown backend type '{type}' for backend '{name}' (known types: local, openai, anthropic, peer)");
            return null;
        }

        var backend = BackendConfig.WithKindDefaults(name, kind) with { SourceFile = reader.File, SourceLine = (int)node.Start.Line, SourceColumn = (int)node.Start.Column };
        foreach (var (key, keyNode, value) in entries)
        {
            switch (key)
            {
                case "name" or "type":
                    break;
                case "baseUrl":
                    if (kind == BackendKind.Local)
                    {
                        reader.Error(keyNode, "the local backend takes no baseUrl");
                    }
                    else if (reader.String(value, "baseUrl") is { } url)
                    {
                        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
                        {
                            backend = backend with { BaseUrl = uri };
                        }
                        else
                        {
                            reader.Error(value, $"baseUrl must be an absolute http or https address (got '{url}')");
                        }
                    }

                    break;
                case "apiKeyEnv":
                    if (kind == BackendKind.Local)
                    {
                        reader.Error(keyNode, "the local backend takes no API key");
                    }
                    else
                    {
                        backend = backend with { ApiKeyEnv = reader.String(value, "apiKeyEnv") };
                    }

                    break;
                case "apiKeyFile":
                    if (kind == BackendKind.Local)
                    {
                        reader.Error(keyNode, "the local backend takes no API key");
                    }
                    else if (reader.String(value, "apiKeyFile") is { } keyFile)
                    {
                        var baseDir = Path.GetDirectoryName(reader.File) ?? ".";
                        backend = backend with { ApiKeyFile = Path.GetFullPath(Path.Combine(baseDir, keyFile)) };
                    }

                    break;
                default:
                    backend = ApplyMetadata(reader, key, value, backend);
                    break;
            }
        }

        if (kind != BackendKind.Local && backend.BaseUrl is null && !entries.Any(e => e.Key == "baseUrl"))
        {
            reader.Error(node, $"backend '{name}' needs a baseUrl");
        }

        if (backend.ApiKeyEnv is not null && backend.ApiKeyFile is not null)
        {
            reader.Error(node, $"backend '{name}' sets both apiKeyEnv and apiKeyFile; choose one");
        }

        return backend;
    }

    /// <summary>Applies one metadata key (shared by config backends and policy overrides).</summary>
    internal static BackendConfig ApplyMetadata(YamlReader reader, string key, YamlNode value, BackendConfig backend)
    {
        switch (key)
        {
            case "quality":
                return reader.Number(value, "quality", 0, 1) is { } q ? backend with { Quality = q } : backend;
            case "sovereignty":
                return reader.Number(value, "sovereignty", 0, 1) is { } s ? backend with { Sovereignty = s } : backend;
            case "costPerMillionTokens":
                return reader.Number(value, "costPerMillionTokens", 0, 1_000_000) is { } c ? backend with { CostPerMillionTokens = c } : backend;
            case "latencyMs":
                return reader.Number(value, "latencyMs", 0, 3_600_000) is { } l ? backend with { LatencyMs = l } : backend;
            case "jurisdiction":
                return backend with { Jurisdiction = reader.String(value, "jurisdiction") };
            case "retainsData":
                return reader.Bool(value, "retainsData") is { } r ? backend with { RetainsData = r } : backend;
            case "trusted":
                if (backend.Kind != BackendKind.Peer)
                {
                    reader.Error(value, "trusted applies to peers only");
                    return backend;
                }

                return reader.Bool(value, "trusted") is { } t ? backend with { Trusted = t } : backend;
            case "models":
                if (backend.Kind == BackendKind.Local)
                {
                    reader.Error(value, "the local backend's models are the models folder's; use aliases in the policy to map other names");
                    return backend;
                }

                return reader.StringList(value, "models") is { } models ? backend with { Models = models } : backend;
            case "defaultModel":
                if (backend.Kind == BackendKind.Local)
                {
                    reader.Error(value, "the local backend's default model is chosen by the gateway");
                    return backend;
                }

                return backend with { DefaultModel = reader.String(value, "defaultModel") };
            default:
                reader.Error(value, $"unknown key '{key}'");
                return backend;
        }
    }
}
