using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Invites;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>inference-mesh mesh …</c>: the P2P mesh's command group.
/// <list type="bullet">
/// <item><c>mesh id [--config FILE] [--data DIR]</c>: prints this node's id (creates the key on first use).</item>
/// <item><c>mesh invite [--config FILE] [--data DIR]</c>: prints a token with the id and this node's addresses.</item>
/// <item><c>mesh join TOKEN [--config FILE] [--data DIR]</c>: checks the token and adds the node to the state file's bootstrap list.</item>
/// <item><c>mesh receipts [--config FILE] [--data DIR] [--json]</c>: lists the verified usage receipts of requests peers served for this node.</item>
/// </list>
/// Exit codes: 0 done, 1 refused input (a token that is not a valid invite), 2 bad usage (a missing token too) or config.
/// </summary>
internal static class MeshCli
{
    private const string Usage = "usage: inference-mesh mesh id|invite|join TOKEN|receipts [--json] [--config FILE] [--data DIR]";

    public static bool Matches(IReadOnlyList<string> args) => args is ["mesh", ..];

    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error) => Task.FromResult(Run(args, output, error));

    private static int Run(string[] args, TextWriter output, TextWriter error)
    {
        string? configPath = null, dataDir = null, command = null, token = null;
        var json = false;
        var positionalOnly = false;
        for (var i = 1; i < args.Length; i++)
        {
            var arg = args[i];
            if (!positionalOnly && arg == "--")
            {
                positionalOnly = true;
                continue;
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = !positionalOnly && equals > 0 ? arg[..equals] : arg;
            if (!positionalOnly && name is "--config" or "--data")
            {
                // The value follows CliOptionValue's rule: "--config --json" took "--json" as the config file.
                var value = equals > 0 ? arg[(equals + 1)..] : i + 1 < args.Length && CliOptionValue.IsValue(args[i + 1], GatewayCommandLine.HelpFlags) ? args[++i] : null;
                if (string.IsNullOrWhiteSpace(value))
                {
                    // Path.GetFullPath("") threw: a stack trace and an abort (exit 134).
                    error.WriteLine(value is null ? $"inference-mesh: {name} needs a path (see --help)." : $"inference-mesh: {name} needs a path, not an empty string.");
                    return 2;
                }

                if (name == "--config") configPath = value;
                else dataDir = Path.GetFullPath(value);
                continue;
            }

            switch (positionalOnly || !arg.StartsWith('-') ? null : arg)
            {
                case "-h" or "--help": output.WriteLine(Usage); return 0;
                case "--json": json = true; break;
                case null when command is null: command = arg; break;
                case null when command == "join" && token is null: token = arg; break;
                default: error.WriteLine($"inference-mesh: unexpected argument '{arg}'. {Usage}"); return 2;
            }
        }

        MeshOptions? options = null;
        if (configPath is not null)
        {
            if (!File.Exists(configPath))
            {
                error.WriteLine($"inference-mesh: config file {configPath} not found.");
                return 2;
            }

            var (read, errors) = MeshConfigReader.Read(configPath, dataDir);
            if (errors.Count > 0)
            {
                foreach (var e in errors)
                {
                    error.WriteLine($"inference-mesh: {e}");
                }

                return 2;
            }

            options = read;
        }

        var dataDirectory = dataDir ?? options?.DataDirectory ?? MeshDefaults.DataDirectory();
        var keyFile = options?.KeyFile ?? Path.Combine(dataDirectory, MeshDefaults.KeyFileName);
        var stateFile = Path.Combine(dataDirectory, MeshDefaults.StateFileName);

        switch (command)
        {
            case "receipts":
                return ListReceipts(dataDirectory, json, output);

            case "id":
            {
                using var identity = LoadIdentity(keyFile, error);
                if (identity is null) return 2;
                output.WriteLine(identity.Id);
                return 0;
            }

            case "invite":
            {
                if (options is null)
                {
                    error.WriteLine("inference-mesh: 'mesh invite' needs --config FILE with a mesh: block (its listen address goes in the token).");
                    return 2;
                }

                using var identity = LoadIdentity(keyFile, error);
                if (identity is null) return 2;
                var gossip = options.Gossip ?? new System.Net.IPEndPoint(options.Listen.Address, options.Listen.Port + MeshDefaults.GossipPortOffset);
                output.WriteLine(new InviteToken(identity.Id, [gossip.ToString()], [options.Listen.ToString()]).Encode());
                return 0;
            }

            case "join":
            {
                if (token is null)
                {
                    // Was "invalid invite: an invite token starts with 'imesh1.'" and exit 1, as if a token had been given.
                    error.WriteLine("inference-mesh: 'mesh join' needs the invite TOKEN that 'mesh invite' prints on the node to join: inference-mesh mesh join TOKEN.");
                    return 2;
                }

                if (!InviteToken.TryParse(token, out var invite, out var reason))
                {
                    error.WriteLine($"inference-mesh: invalid invite: {reason}.");
                    return 1;
                }

                bool isNew;
                try
                {
                    isNew = MeshStateFile.Add(stateFile, invite);
                }
                catch (MeshStateException ex)
                {
                    error.WriteLine($"inference-mesh: {ex.Message}");
                    return 2;
                }

                output.WriteLine($"{(isNew ? "added" : "updated")} {invite.Id} ({string.Join(", ", invite.Gossip)}) to {stateFile}; trust: community unless mesh.trust says otherwise");
                return 0;
            }

            default:
                error.WriteLine($"inference-mesh: {Usage}");
                return 2;
        }
    }

    /// <summary>One line per receipt (time, server, model, digest, tokens), or the stored receipts as JSON (signatures included).</summary>
    private static int ListReceipts(string dataDirectory, bool json, TextWriter output)
    {
        var receipts = new InferenceMesh.Mesh.Receipts.ReceiptStore(dataDirectory).List();
        if (json)
        {
            output.WriteLine(InferenceMesh.Mesh.Receipts.ReceiptStore.ToJson(receipts));
            return 0;
        }

        if (receipts.Count == 0)
        {
            output.WriteLine("no receipts");
            return 0;
        }

        output.WriteLine("time (UTC)           server    model                     model sha256      prompt  completion");
        foreach (var stored in receipts)
        {
            var r = stored.Receipt;
            var at = DateTimeOffset.FromUnixTimeMilliseconds(r.TimeMs).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
            var digest = r.ModelSha256.Length > 16 ? r.ModelSha256[..16] : r.ModelSha256;
            output.WriteLine($"{at}  {r.Server[..Math.Min(7, r.Server.Length)],-8}  {r.Model,-24}  {digest,-16}  {r.PromptTokens,6}  {r.CompletionTokens,10}");
        }

        output.WriteLine($"{receipts.Count} receipt(s), {receipts.Sum(x => x.Receipt.PromptTokens)} prompt + {receipts.Sum(x => x.Receipt.CompletionTokens)} completion tokens");
        return 0;
    }

    private static NodeIdentity? LoadIdentity(string keyFile, TextWriter error)
    {
        try
        {
            return NodeIdentity.LoadOrCreate(keyFile);
        }
        catch (Exception ex) when (ex is MeshIdentityException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"inference-mesh: {ex.Message}");
            return null;
        }
    }
}
