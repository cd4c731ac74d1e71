using System.Globalization;
using System.Net;
using InferenceMesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Trust;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace InferenceMesh.Mesh.Configuration;

/// <summary>
/// Reads the <c>mesh:</c> block of the gateway's YAML config (the router reads the rest and skips this key).
/// Every error is reported as <c>file:line:column: reason</c>.
/// </summary>
public static class MeshConfigReader
{
    private static readonly HashSet<string> Keys =
    [
        "listen", "gossip", "bootstrap", "trust", "admission", "dataDir", "keyFile", "gossipKey",
        "pricePerMillionTokens", "jurisdiction", "serf", "advertRefreshSeconds", "reapAfterSeconds",
        "quota", "verifyShare", "verify_share",
    ];

    /// <summary>The deepest nesting of lists and mappings the file may have (the router's limit too).</summary>
    public const int MaxDepth = 32;

    /// <summary>Null options and no errors when the file has no <c>mesh:</c> block (the mesh is off).</summary>
    public static (MeshOptions? Options, IReadOnlyList<string> Errors) Read(string configPath, string? dataDirectoryOverride = null)
    {
        var errors = new List<string>();
        YamlStream yaml = [];
        try
        {
            var (text, error) = BoundedTextFile.Read(configPath, BoundedTextFile.ConfigMaxBytes);
            if (text is null)
            {
                return (null, [$"{configPath}: config file {error}"]);
            }

            if (TooDeep(text) is { } deep)
            {
                return (null, [$"{configPath}:{deep.Line}:{deep.Column}: nested deeper than {MaxDepth} levels"]);
            }

            yaml.Load(new StringReader(text));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or YamlException)
        {
            return (null, [$"{configPath}: {ex.Message}"]);
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner gives up this way on some malformed input, without a position or a useful message.
            return (null, [$"{configPath}: not valid YAML (the parser gave up; check brackets, quotes and indentation)"]);
        }

        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root)
        {
            return (null, []);
        }

        var meshNode = root.Children.FirstOrDefault(kv => kv.Key is YamlScalarNode { Value: "mesh" }).Value;
        if (meshNode is null)
        {
            return (null, []);
        }

        string Where(YamlNode node) => $"{configPath}:{node.Start.Line}:{node.Start.Column}";

        if (meshNode is not YamlMappingNode mesh)
        {
            return (null, [$"{Where(meshNode)}: mesh must be a mapping"]);
        }

        IPEndPoint? listen = null;
        IPEndPoint? gossip = null;
        var bootstrap = new List<string>();
        var trust = new List<TrustEntry>();
        var admission = MeshAdmission.Listed;
        string? dataDir = null, keyFile = null, gossipKey = null, jurisdiction = null, serf = null;
        decimal price = 0;
        TimeSpan? refresh = null, reap = null;
        var quota = new Serving.PeerQuota();
        var verifyShare = MeshDefaults.VerifyShare;
        var baseDir = Path.GetDirectoryName(Path.GetFullPath(configPath))!;

        foreach (var (keyNode, value) in mesh.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? "";
            if (!Keys.Contains(key))
            {
                errors.Add($"{Where(keyNode)}: unknown key 'mesh.{key}' (known: {string.Join(", ", Keys)})");
                continue;
            }

            var scalar = (value as YamlScalarNode)?.Value;
            switch (key)
            {
                case "listen":
                    listen = ParseEndPoint(scalar, Where(value), "mesh.listen", errors);
                    break;
                case "gossip":
                    gossip = ParseEndPoint(scalar, Where(value), "mesh.gossip", errors);
                    break;
                case "bootstrap":
                    if (value is not YamlSequenceNode list)
                    {
                        errors.Add($"{Where(value)}: mesh.bootstrap must be a list of host:port");
                        break;
                    }

                    foreach (var item in list)
                    {
                        var text = (item as YamlScalarNode)?.Value;
                        if (!IsHostPort(text))
                        {
                            errors.Add($"{Where(item)}: mesh.bootstrap entries are host:port (got '{text}')");
                        }
                        else
                        {
                            bootstrap.Add(text!);
                        }
                    }

                    break;
                case "trust":
                    ReadTrust(value, Where, trust, errors);
                    break;
                case "admission":
                    admission = scalar switch
                    {
                        "listed" => MeshAdmission.Listed,
                        "open" => MeshAdmission.Open,
                        _ => Fail(MeshAdmission.Listed, $"{Where(value)}: mesh.admission must be 'listed' or 'open' (got '{scalar}')"),
                    };
                    break;
                case "dataDir":
                    dataDir = Path.GetFullPath(scalar ?? "", baseDir);
                    break;
                case "keyFile":
                    keyFile = Path.GetFullPath(scalar ?? "", baseDir);
                    break;
                case "gossipKey":
                    gossipKey = scalar;
                    if (!IsGossipKey(scalar))
                    {
                        errors.Add($"{Where(value)}: mesh.gossipKey must be base64 of 16, 24 or 32 bytes");
                    }

                    break;
                case "pricePerMillionTokens":
                    if (!decimal.TryParse(scalar, NumberStyles.Float, CultureInfo.InvariantCulture, out price) || price < 0)
                    {
                        errors.Add($"{Where(value)}: mesh.pricePerMillionTokens must be a number >= 0");
                    }

                    break;
                case "jurisdiction":
                    jurisdiction = scalar;
                    break;
                case "serf":
                    serf = scalar;
                    break;
                case "advertRefreshSeconds":
                    refresh = ParseSeconds(scalar, Where(value), key, 1, errors);
                    break;
                case "reapAfterSeconds":
                    reap = ParseSeconds(scalar, Where(value), key, 1, errors);
                    break;
                case "quota":
                    if (value is not YamlMappingNode quotaMap)
                    {
                        errors.Add($"{Where(value)}: mesh.quota must be a mapping {{concurrent, tokensPerMinute}}");
                        break;
                    }

                    foreach (var (qk, qv) in quotaMap.Children)
                    {
                        quota = ReadQuotaField(quota, (qk as YamlScalarNode)?.Value, qv, "mesh.quota", Where, errors);
                    }

                    break;
                case "verifyShare" or "verify_share":
                    if (!double.TryParse(scalar, NumberStyles.Float, CultureInfo.InvariantCulture, out verifyShare) || verifyShare is < 0 or > 1)
                    {
                        errors.Add($"{Where(value)}: mesh.{key} must be a number from 0 to 1");
                    }

                    break;
            }
        }

        if (listen is null && !errors.Any(e => e.Contains("mesh.listen", StringComparison.Ordinal)))
        {
            errors.Add($"{Where(mesh)}: mesh.listen (address:port) is required");
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var options = new MeshOptions
        {
            Listen = listen!,
            Gossip = gossip,
            Bootstrap = bootstrap,
            Trust = trust,
            Admission = admission,
            DataDirectory = dataDirectoryOverride ?? dataDir ?? MeshDefaults.DataDirectory(),
            KeyFile = keyFile,
            GossipKey = gossipKey,
            PricePerMillionTokens = price,
            Jurisdiction = jurisdiction,
            SerfExecutable = serf ?? MeshDefaults.SerfExecutable,
            AdvertRefreshInterval = refresh ?? MeshDefaults.AdvertRefreshInterval,
            ReapAfter = reap ?? MeshDefaults.ReapAfter,
            Quota = quota,
            VerifyShare = verifyShare,
        };
        return (options, []);

        T Fail<T>(T fallback, string error)
        {
            errors.Add(error);
            return fallback;
        }
    }

    private static void ReadTrust(YamlNode value, Func<YamlNode, string> where, List<TrustEntry> trust, List<string> errors)
    {
        if (value is not YamlSequenceNode list)
        {
            errors.Add($"{where(value)}: mesh.trust must be a list of {{id, level}}");
            return;
        }

        foreach (var item in list)
        {
            if (item is not YamlMappingNode map)
            {
                errors.Add($"{where(item)}: mesh.trust entries are {{id, level}}");
                continue;
            }

            string? idText = null, levelText = null;
            Serving.PeerQuota? quota = null;
            foreach (var (k, v) in map.Children)
            {
                switch ((k as YamlScalarNode)?.Value)
                {
                    case "id": idText = (v as YamlScalarNode)?.Value; break;
                    case "level": levelText = (v as YamlScalarNode)?.Value; break;
                    case var field and ("concurrent" or "tokensPerMinute"):
                        quota = ReadQuotaField(quota ?? new Serving.PeerQuota(), field, v, "mesh.trust", where, errors);
                        break;
                    default: errors.Add($"{where(k)}: unknown key in a mesh.trust entry (id, level, concurrent, tokensPerMinute)"); break;
                }
            }

            if (!NodeId.TryParse(idText, out var id, out var idError))
            {
                errors.Add($"{where(item)}: mesh.trust id: {idError}");
                continue;
            }

            TrustLevel? level = levelText switch
            {
                "trusted" => TrustLevel.Trusted,
                "community" => TrustLevel.Community,
                "open" => TrustLevel.Open,
                _ => null,
            };
            if (level is null)
            {
                errors.Add($"{where(item)}: mesh.trust level must be trusted, community or open (got '{levelText}')");
                continue;
            }

            trust.Add(new TrustEntry(id, level.Value) { Quota = quota });
        }
    }

    private static Serving.PeerQuota ReadQuotaField(Serving.PeerQuota quota, string? field, YamlNode value, string what, Func<YamlNode, string> where, List<string> errors)
    {
        var text = (value as YamlScalarNode)?.Value;
        if (field is not ("concurrent" or "tokensPerMinute"))
        {
            errors.Add($"{where(value)}: unknown key '{field}' in {what} (concurrent, tokensPerMinute)");
            return quota;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < 1)
        {
            errors.Add($"{where(value)}: {what}.{field} must be a whole number >= 1 (got '{text}')");
            return quota;
        }

        return field == "concurrent" ? quota with { Concurrent = n } : quota with { TokensPerMinute = n };
    }

    private static IPEndPoint? ParseEndPoint(string? text, string where, string name, List<string> errors)
    {
        if (IPEndPoint.TryParse(text ?? "", out var endpoint) && text!.Contains(':', StringComparison.Ordinal))
        {
            return endpoint;
        }

        errors.Add($"{where}: {name} must be an IP address and port, e.g. 192.168.1.10:7443 (got '{text}')");
        return null;
    }

    private static TimeSpan? ParseSeconds(string? text, string where, string name, int min, List<string> errors)
    {
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) && seconds >= min)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        errors.Add($"{where}: mesh.{name} must be a whole number of seconds >= {min}");
        return null;
    }

    internal static bool IsHostPort(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var colon = text.LastIndexOf(':');
        return colon > 0 && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535;
    }

    internal static bool IsGossipKey(string? text)
    {
        try
        {
            return Convert.FromBase64String(text ?? "").Length is 16 or 24 or 32;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// Where the nesting first goes deeper than <see cref="MaxDepth"/>, found with the event parser (which does not
    /// recurse) before the representation model is built: that recurses once per level, and a file of a few hundred
    /// thousand brackets overflowed the stack, an abort no handler can catch.
    /// </summary>
    private static Mark? TooDeep(string text)
    {
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        while (parser.MoveNext())
        {
            if (parser.Current is SequenceStart or MappingStart)
            {
                if (++depth > MaxDepth)
                {
                    return parser.Current.Start;
                }
            }
            else if (parser.Current is SequenceEnd or MappingEnd)
            {
                depth--;
            }
        }

        return null;
    }
}
