using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using InferenceMesh.Bench.LocalInference;

// Two commands, driven by bench/run-local.sh:
//   measure --server NAME[,NAME2] --model LABEL --url URL[,URL2] --pid PID[,PID2] --gguf FILE --out RESULTS.jsonl [options]
//       waits for /health, warms up, measures the running servers on one model (several: interleaved, sample by
//       sample, the order reversed every other sample), appends one JSON line per server.
//   report --in RESULTS.jsonl --out REPORT.md [--header FILE]
//       prints the Markdown table (absolute numbers and gateway / llama-server ratios) and writes it.
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}

var options = ParseOptions(args.AsSpan(1));
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

switch (args[0])
{
    case "measure":
        {
            // --server, --url, --pid (and --ready-seconds) may list several servers, comma-separated, in the same
            // order: they run at once on the same model and are measured interleaved.
            var gguf = Required(options, "gguf");
            var bans = Vocabulary.ForbiddenTokens(gguf);
            var names = List(Required(options, "server"));
            var urls = List(Required(options, "url"));
            var pids = options.TryGetValue("pid", out var p) ? List(p) : [.. names.Select(_ => "0")];
            var ready = options.TryGetValue("ready-seconds", out var r) ? List(r) : null;
            if (urls.Length != names.Length || pids.Length != names.Length || (ready is not null && ready.Length != names.Length))
            {
                throw new ArgumentException("--server, --url, --pid and --ready-seconds must list the same number of servers");
            }

            var measures = names.Select((name, i) => new MeasureOptions
            {
                BaseUrl = new Uri(urls[i].TrimEnd('/') + "/"),
                Server = name,
                Model = Required(options, "model"),
                Pid = int.Parse(pids[i], CultureInfo.InvariantCulture),
                ForbiddenTokens = bans,
                Threads = Int(options, "threads", 0),
                MaxTokens = Int(options, "tokens", 128),
                SingleRuns = Int(options, "single-runs", 5),
                Concurrency = Int(options, "concurrency", 8),
                ConcurrentRuns = Int(options, "concurrent-runs", 3),
                TtftRuns = Int(options, "ttft-runs", 10),
                ReadySeconds = ready is null ? null : double.Parse(ready[i], CultureInfo.InvariantCulture),
                ReadyTimeout = TimeSpan.FromSeconds(Int(options, "ready-timeout", 300)),
                BlockingClient = (options.TryGetValue("client", out var client) ? client : "async") switch
                {
                    "blocking" => true,
                    "async" => false,
                    _ => throw new ArgumentException("--client must be blocking or async"),
                },
            }).ToList();
            Console.WriteLine($"== {measures[0].Model} on {string.Join(", ", measures.Select(m => $"{m.Server} ({m.BaseUrl})"))}");
            var results = await Measurement.RunAsync(measures, Console.Out, cancel.Token);
            var lines = results.Select(result => JsonSerializer.Serialize(result, ResultJson.Default.ServerResult) + "\n");
            await File.AppendAllTextAsync(Required(options, "out"), string.Concat(lines));
            return results.All(result => result.Error is null) ? 0 : 1;
        }

    case "report":
        {
            var results = File.ReadLines(Required(options, "in"))
                .Where(l => !string.IsNullOrWhiteSpace(l))
                .Select(l => JsonSerializer.Deserialize(l, ResultJson.Default.ServerResult)!)
                .ToList();
            var header = options.TryGetValue("header", out var h) && File.Exists(h) ? File.ReadAllText(h) : null;
            var markdown = Report.Render(results, header);
            Console.WriteLine(markdown);
            if (options.TryGetValue("out", out var path))
            {
                await File.WriteAllTextAsync(path, markdown);
            }

            return 0;
        }

    default:
        Console.Error.WriteLine($"unknown command '{args[0]}'\n{Usage}");
        return 2;
}

static Dictionary<string, string> ParseOptions(ReadOnlySpan<string> args)
{
    var options = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
        {
            throw new ArgumentException($"expected '--name value', got '{args[i]}'");
        }

        options[args[i][2..]] = args[++i];
    }

    return options;
}

static string Required(Dictionary<string, string> options, string name) =>
    options.TryGetValue(name, out var value) ? value : throw new ArgumentException($"--{name} is required");

static string[] List(string value) => value.Split(',', StringSplitOptions.TrimEntries);

static int Int(Dictionary<string, string> options, string name, int fallback) =>
    options.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

internal static partial class Program
{
    private const string Usage = """
        local-inference-bench measure --server NAME[,NAME...] --model LABEL --url URL[,URL...]
                              --pid PID[,PID...] --gguf MODEL.gguf --out RESULTS.jsonl [--ready-seconds S[,S...]]
                              [--threads T] [--tokens 128] [--single-runs 5] [--concurrency 8]
                              [--concurrent-runs 3] [--ttft-runs 10] [--ready-timeout 300]
                              [--client async|blocking]
        local-inference-bench report --in RESULTS.jsonl [--out REPORT.md] [--header HEADER.md]
        """;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ServerResult))]
internal sealed partial class ResultJson : JsonSerializerContext;
