using System.Globalization;
using InferenceMesh.Configuration;

namespace InferenceMesh.Gateway.Hosting;

/// <summary>Parses the gateway's flags (<c>--name value</c> or <c>--name=value</c>) into <see cref="GatewayOptions"/>.</summary>
internal static class GatewayCommandLine
{
    public const string Usage = """
        Usage: inference-mesh [--models DIR] [--host ADDR] [--port N] [--threads T] [--decode-threads M] [--slots S] [--ctx C]
                              [--allowed-hosts h1,h2] [--max-body-bytes B] [--config FILE] [--policies DIR]
                              [--data DIR] [--history-retention-days N] [--no-history] [--response-retention-days N]
                              [--embedding-model NAME] [--max-file-bytes B]
                              [--rag-index sqlite|postgres] [--rag-postgres-env VAR] [--rag-postgres-schema NAME]
                              [--torrent-dht true|false] [--torrent-announce URL] [--aria2c PATH]
               inference-mesh --version
               inference-mesh config check [--config FILE] [--policies DIR] [--models DIR] [--prompt TEXT] [--model NAME]

          --models DIR          folder of *.gguf models (default: $XDG_DATA_HOME/inference-mesh/models,
                                else ~/.local/share/inference-mesh/models)
          --host ADDR           IP address or 'localhost' to listen on (default: 127.0.0.1)
          --port N              TCP port, 0 picks a free one (default: 8080)
          --threads T           decode threads (default: chosen by the engine)
          --decode-threads M    adaptive: decode on one thread while the cores are too busy for T (the
                                default); fixed: always T (repeatable greedy text under any load)
          --slots S             parallel sequences per model (default: chosen by the engine, 4)
          --ctx C               context tokens per slot (default: the model's training context, at most 4096)
          --allowed-hosts LIST  Host header values accepted besides loopback names; '*' accepts any
          --max-body-bytes B    largest request body (default: 8388608)
          --config FILE         routing config (YAML: backends, policy); none = local model only
          --data DIR            the context store's folder: conversations, files, vector stores
                                (default: $XDG_DATA_HOME/inference-mesh/data, else ~/.local/share/inference-mesh/data)
          --history-retention-days N
                                delete conversation items older than N days, and conversations idle
                                for N days (default: keep until deleted)
          --no-history          store no conversation history (a request naming a conversation gets 400)
                                nor responses (/v1/responses with store true gets 400)
          --response-retention-days N
                                delete stored responses (/v1/responses) N days after they were created;
                                none is returned after (default: 30, as OpenAI)
          --embedding-model NAME  local model that embeds vector stores' files (default: the first
                                model of the models folder by name); each store records its model
          --max-file-bytes B    largest file accepted by POST /v1/files (default: 67108864)
          --rag-index KIND      where vector stores' chunks and vectors live: sqlite (sqlite-vec + FTS5 in
                                the data folder, the default) or postgres (PostgreSQL + pgvector)
          --rag-postgres-env VAR  environment variable with the PostgreSQL connection string
                                (default: INFERENCE_MESH_RAG_POSTGRES)
          --rag-postgres-schema NAME  PostgreSQL schema of the index (default: inference_mesh)
          --torrent-dht B       BitTorrent DHT and local peer discovery for public torrents (default: false)
          --torrent-announce U  tracker URL put in shared torrents (default: this gateway's /announce)
          --torrent-engine E    the BitTorrent engine the gateway runs: qbittorrent (qbittorrent-nox, BitTorrent
                                v2 torrents; the default) or aria2 (v1 torrents only)
          --torrent-engine-start S  eager: start the BitTorrent engine in the background with the gateway, so
                                the first pull does not wait for it; on-demand: at the first share or pull, or at
                                start when saved shares are seeded again (the default)
          --torrent-piece-kib N  piece size of shared torrents in KiB, a power of two from 16 to 65536
                                (default: 16384 for v2, about 1000-2000 pieces for v1)
          --qbittorrent-nox PATH  the qbittorrent-nox executable (default: qbittorrent-nox on PATH)
          --aria2c PATH         the aria2 executable for BitTorrent (default: aria2c on PATH)
          --policies DIR        folder of policy files, which must exist (default: ./policies, else the
                                one installed next to the executable, else the built-in default policy)

        config check validates the config and every policy, then prints the plan for --prompt
        (classified in process; only kinds of findings are printed, never the text). Exit 0 when valid.
        """;

    /// <summary>What <c>inference-mesh --version</c> prints: the product's version and the llama.cpp tag its engine binds.</summary>
    public static string VersionLine =>
        $"inference-mesh {typeof(GatewayCommandLine).Assembly.GetName().Version?.ToString(3)} (llama.cpp {InferenceMesh.Engine.Native.LlamaLibrary.PinnedTag})";

    /// <summary>The result of parsing: options, or a one-line error, or a request for help.</summary>
    public sealed record ParseResult(GatewayOptions? Options, string? Error, bool HelpRequested);

    /// <summary>The gateway's only option names that do not start with "--".</summary>
    internal static readonly IReadOnlySet<string> HelpFlags = new HashSet<string>(["-h"], StringComparer.Ordinal);

    public static ParseResult Parse(IReadOnlyList<string> args)
    {
        var options = new GatewayOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                return new(null, null, HelpRequested: true);
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                return Fail($"Unexpected argument '{arg}'; flags start with '--' (see --help).");
            }

            if (arg == "--no-history")
            {
                options = options with { HistoryEnabled = false }; // the one flag without a value
                continue;
            }

            string name;
            string? value;
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
            }
            else
            {
                name = arg;
                // "--models --port 8080" lacks a value; it must not make "--port" the models folder ("--x=--y" can say it).
                value = i + 1 < args.Count && Cli.CliOptionValue.IsValue(args[i + 1], HelpFlags) ? args[++i] : null;
            }

            if (value is null)
            {
                return Fail($"{name} needs a value (see --help).");
            }

            switch (name)
            {
                case "--models":
                    if (FolderProblem(name, Path.GetFullPath(value), mustExist: false) is { } modelsDirectoryProblem) return Fail(modelsDirectoryProblem);
                    options = options with { ModelsDirectory = Path.GetFullPath(value) };
                    break;
                case "--host":
                    options = options with { Host = value };
                    break;
                case "--port":
                    if (!TryInt(value, out var port)) return NotInteger(name, value);
                    options = options with { Port = port };
                    break;
                case "--threads":
                    if (!TryInt(value, out var threads)) return NotInteger(name, value);
                    options = options with { Threads = threads };
                    break;
                case "--decode-threads":
                    if (value is not ("adaptive" or "fixed")) return Fail($"--decode-threads must be adaptive or fixed (got '{value}').");
                    options = options with { AdaptiveThreads = value == "adaptive" };
                    break;
                case "--slots":
                    if (!TryInt(value, out var slots)) return NotInteger(name, value);
                    options = options with { Slots = slots };
                    break;
                case "--ctx":
                    if (!TryInt(value, out var ctx)) return NotInteger(name, value);
                    options = options with { ContextLength = ctx };
                    break;
                case "--max-body-bytes":
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes)) return NotInteger(name, value);
                    options = options with { MaxRequestBodyBytes = bytes };
                    break;
                case "--config":
                    if (FileProblem(name, Path.GetFullPath(value)) is { } configFileProblem) return Fail(configFileProblem);
                    options = options with { ConfigPath = Path.GetFullPath(value) };
                    break;
                case "--data":
                    if (FolderProblem(name, Path.GetFullPath(value), mustExist: false) is { } dataDirectoryProblem) return Fail(dataDirectoryProblem);
                    options = options with { DataDirectory = Path.GetFullPath(value) };
                    break;
                case "--history-retention-days":
                    if (!TryInt(value, out var days)) return NotInteger(name, value);
                    options = options with { HistoryRetentionDays = days };
                    break;
                case "--response-retention-days":
                    if (!TryInt(value, out var responseDays)) return NotInteger(name, value);
                    options = options with { ResponseRetentionDays = responseDays };
                    break;
                case "--embedding-model":
                    options = options with { EmbeddingModel = value };
                    break;
                case "--max-file-bytes":
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var fileBytes)) return NotInteger(name, value);
                    options = options with { MaxFileBytes = fileBytes };
                    break;
                case "--rag-index":
                    options = options with { RagIndex = value };
                    break;
                case "--rag-postgres-env":
                    options = options with { RagPostgresVariable = value };
                    break;
                case "--rag-postgres-schema":
                    options = options with { RagPostgresSchema = value };
                    break;
                case "--policies":
                    if (FolderProblem(name, Path.GetFullPath(value), mustExist: true) is { } policiesDirectoryProblem) return Fail(policiesDirectoryProblem);
                    options = options with { PoliciesDirectory = Path.GetFullPath(value) };
                    break;
                case "--torrent-dht":
                    if (!bool.TryParse(value, out var dht)) return Fail($"--torrent-dht must be true or false (got '{value}').");
                    options = options with { TorrentDht = dht };
                    break;
                case "--torrent-announce":
                    options = options with { TorrentAnnounceUrl = value };
                    break;
                case "--aria2c":
                    options = options with { Aria2Executable = value };
                    break;
                case "--qbittorrent-nox":
                    options = options with { QBittorrentExecutable = value };
                    break;
                case "--torrent-engine":
                    if (value is not (ModelCache.Torrents.TorrentEngines.QBittorrent or ModelCache.Torrents.TorrentEngines.Aria2)) return Fail($"--torrent-engine must be qbittorrent or aria2 (got '{value}').");
                    options = options with { TorrentEngine = value };
                    break;
                case "--torrent-engine-start":
                    if (value is not ("eager" or "on-demand")) return Fail($"--torrent-engine-start must be eager or on-demand (got '{value}').");
                    options = options with { TorrentEngineEagerStart = value == "eager" };
                    break;
                case "--torrent-piece-kib":
                    if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pieceKib) || pieceKib is < 16 or > 65536 || !int.IsPow2(pieceKib))
                        return Fail($"--torrent-piece-kib must be a power of two from 16 to 65536 (got '{value}').");
                    options = options with { TorrentPieceKib = pieceKib };
                    break;
                case "--allowed-hosts":
                    options = options with
                    {
                        AllowedHosts = [.. value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)],
                    };
                    break;
                default:
                    return Fail($"Unknown flag '{name}' (see --help).");
            }
        }

        return options.Validate() is { } error ? Fail(error) : new(options, null, false);
    }

    /// <summary>
    /// Why a folder flag cannot be used: a file there stopped start-up with a stack trace (--models) or a hosting
    /// failure (--data), and a --policies folder that is not there silently gave the built-in default policy instead
    /// of the one the operator named.
    /// </summary>
    internal static string? FolderProblem(string name, string path, bool mustExist)
    {
        if (File.Exists(path))
        {
            return $"{name} must name a folder; '{path}' is a file.";
        }

        return mustExist && !Directory.Exists(path) ? $"{name}: the folder '{path}' does not exist." : null;
    }

    /// <summary>
    /// Why a file flag cannot be used, checked before the file is opened: a FIFO with no writer made start-up (and
    /// <c>config check</c>) wait forever on the open. A missing file is the loader's to report.
    /// </summary>
    internal static string? FileProblem(string name, string path) =>
        RegularFile.Problem(path) is { } problem ? $"{name}: '{path}' {problem}." : null;

    private static bool TryInt(string value, out int result) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result);

    private static ParseResult NotInteger(string name, string value) => Fail($"{name} must be an integer (got '{value}').");

    private static ParseResult Fail(string error) => new(null, error, false);
}
