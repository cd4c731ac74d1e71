using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using InferenceMesh.Engine.Quantization;
using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.ModelCache.Gguf;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>inference-mesh models recommend [--models DIR] [--context N]</c>: for each cached model, whether it fits this
/// machine, roughly how fast it will generate, and which quantisation of it would fit when it does not.
/// </summary>
/// <remarks>
/// <para>Needed memory = weights (the file's tensor bytes) + KV cache (F16 K and V for every layer at the context:
/// 2 × n_layer × n_ctx × n_embd_k/v_gqa × 2 bytes) + overhead (5 % of the weights + 256 MiB for compute buffers and
/// the runtime). It fits when that is at most the available RAM (MemAvailable) or, with a GPU, its memory.</para>
/// <para>Speed: generating a token reads every weight once, so tokens/s ≈ memory bandwidth / weight bytes, with the
/// bandwidth measured by a quick memcpy (bytes copied per second, 256 MiB × 4). An upper bound: real decode reaches
/// roughly half to three quarters of it on a CPU.</para>
/// <para>Alternatives: the estimated size (<see cref="QuantizedSizeEstimator"/>) of Q8_0, Q6_K, Q5_K_M, Q4_K_M,
/// Q3_K_M and Q2_K of the model; the first (best quality) that fits and is smaller than the file is suggested.</para>
/// </remarks>
internal static class ModelsRecommendCommand
{
    /// <summary>The context the estimate uses: the engine's default slot context (its training context, capped).</summary>
    public const int DefaultContext = 4096;

    internal const long OverheadFixedBytes = 256L << 20;
    internal const double OverheadWeightsFraction = 0.05;

    internal static readonly string[] Candidates = ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"];

    /// <param name="probeMachine">Used instead of probing this machine when set (tests).</param>
    public static Command Create(ModelsCliEnvironment environment, Func<MachineFacts>? probeMachine = null)
    {
        var models = ModelsCliEnvironment.ModelsOption();
        var context = new Option<int>("--context") { Description = $"Context length to budget the KV cache for (default: the model's, at most {DefaultContext}).", DefaultValueFactory = _ => 0 };
        var command = new Command("recommend", "Which cached models fit this machine, how fast they would run, and what quantisation would fit.") { models, context };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var contextLength = parse.GetValue(context);
            if (contextLength < 0)
            {
                error.WriteLine("inference-mesh: --context must be positive.");
                return ModelsCliExit.Usage;
            }

            if (!ModelsCliEnvironment.GivenModelsFolderExists(parse, models))
            {
                return ModelsCliExit.Usage;
            }

            var catalog = ModelCatalogFactory.Create(new ModelCatalogOptions { Directory = parse.GetRequiredValue(models) }, environment.LoggerFactory);
            var machine = (probeMachine ?? MachineFacts.Probe)();
            Write(output, machine, catalog.Models.Select(m => Recommend(machine, ModelFacts.From(m), contextLength > 0 ? contextLength : null)).ToList());
            return ModelsCliExit.Ok;
        });
        return command;
    }

    internal static Recommendation Recommend(MachineFacts machine, ModelFacts model, int? context)
    {
        var ctx = context ?? (int)Math.Min(model.TrainContext ?? DefaultContext, DefaultContext);
        var kv = model.KvBytesPerToken * ctx;
        var needed = Needed(model.WeightBytes, kv);
        var budget = Math.Max(machine.AvailableRamBytes, machine.Gpus.Sum(g => g.MemoryBytes));
        var fits = needed <= budget;
        string? suggestion = null;
        long? suggestionBytes = null;
        if (!fits)
        {
            foreach (var name in Candidates)
            {
                if (model.EstimatedBytes(name) is { } size && size < model.WeightBytes && Needed(size, kv) <= budget)
                {
                    (suggestion, suggestionBytes) = (name, size);
                    break;
                }
            }
        }

        return new Recommendation(model, ctx, kv, needed, fits, machine.BandwidthBytesPerSecond / model.WeightBytes, suggestion, suggestionBytes,
            suggestionBytes is { } b ? machine.BandwidthBytesPerSecond / b : null);
    }

    private static long Needed(long weights, long kv) => weights + kv + (long)(weights * OverheadWeightsFraction) + OverheadFixedBytes;

    private static void Write(TextWriter output, MachineFacts machine, IReadOnlyList<Recommendation> recommendations)
    {
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"Machine: {machine.Cores} cores, RAM {Gib(machine.AvailableRamBytes)} available of {Gib(machine.TotalRamBytes)}, memory bandwidth ≈ {machine.BandwidthBytesPerSecond / 1e9:0.0} GB/s (memcpy), GPU: {(machine.Gpus.Count == 0 ? "none" : string.Join(", ", machine.Gpus.Select(g => $"{g.Name} {Gib(g.MemoryBytes)}")))}"));
        if (recommendations.Count == 0)
        {
            output.WriteLine("No models in the models folder.");
            return;
        }

        output.WriteLine("model\tquant\tsize\tneeds (ctx)\tfits\t≈tok/s\tsuggestion");
        foreach (var r in recommendations)
        {
            var suggestion = r.Fits ? "-" : r.Suggestion is { } s
                ? string.Create(inv, $"quantise to {s} (≈{Gib(r.SuggestionBytes!.Value)}, ≈{r.SuggestionTokensPerSecond:0.#} tok/s): inference-mesh models quantize {r.Model.Id} {s}")
                : "too large even at Q2_K";
            output.WriteLine(string.Create(inv,
                $"{r.Model.Id}\t{r.Model.Quantization ?? "?"}\t{Gib(r.Model.WeightBytes)}\t{Gib(r.NeededBytes)} ({r.Context})\t{(r.Fits ? "yes" : "no")}\t{r.TokensPerSecond:0.#}\t{suggestion}"));
        }
    }

    private static string Gib(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("0.0 'GiB'", CultureInfo.InvariantCulture)
        : (bytes / (double)(1L << 20)).ToString("0.0 'MiB'", CultureInfo.InvariantCulture);
}

/// <summary>One model's verdict.</summary>
internal sealed record Recommendation(
    ModelFacts Model, int Context, long KvBytes, long NeededBytes, bool Fits, double TokensPerSecond,
    string? Suggestion, long? SuggestionBytes, double? SuggestionTokensPerSecond);

/// <summary>What the recommendation needs to know about a model.</summary>
internal sealed record ModelFacts(string Id, string? Quantization, long WeightBytes, long? TrainContext, long KvBytesPerToken, Func<string, long?> EstimatedBytes)
{
    /// <summary>From a catalog entry: the GGUF header gives the shape (layers, KV width) and tensors.</summary>
    public static ModelFacts From(CatalogEntry entry)
    {
        var read = GgufReader.Read(entry.Path);
        if (!read.IsValid)
        {
            return new ModelFacts(entry.Id, entry.Quantization, entry.SizeBytes, entry.TrainContextLength, 0, _ => null);
        }

        var file = read.File;
        var arch = file.Architecture ?? "";
        long Get(string key, long fallback) => file.TryGetInteger($"{arch}.{key}", out var v) && v > 0 ? v : fallback;
        var layers = Get("block_count", 0);
        var embd = Get("embedding_length", 0);
        var heads = Get("attention.head_count", 1);
        var kvHeads = Get("attention.head_count_kv", heads);
        var keyLength = Get("attention.key_length", embd / Math.Max(1, heads));
        var valueLength = Get("attention.value_length", keyLength);
        var kvPerToken = layers * kvHeads * (keyLength + valueLength) * 2; // F16 K and V
        var tensors = file.Tensors.Select(t => new QuantizationTensor(t.Name, t.Dimensions, t.ByteCount)).ToList();
        var weights = file.Tensors.Sum(t => t.ByteCount);
        return new ModelFacts(entry.Id, file.Quantization, weights, file.ContextLength, kvPerToken,
            name => QuantizationTypes.TryResolve(name, out var info) ? QuantizedSizeEstimator.Estimate(tensors, info, 0) : null);
    }
}

internal sealed record GpuInfo(string Name, long MemoryBytes);

/// <summary>This machine: RAM from /proc/meminfo, cores, a memcpy bandwidth, GPUs from nvidia-smi when it is on PATH.</summary>
internal sealed record MachineFacts(long TotalRamBytes, long AvailableRamBytes, int Cores, double BandwidthBytesPerSecond, IReadOnlyList<GpuInfo> Gpus)
{
    public static MachineFacts Probe()
    {
        var (total, available) = ReadMemInfo(File.Exists("/proc/meminfo") ? File.ReadAllText("/proc/meminfo") : "");
        return new MachineFacts(total, available, Environment.ProcessorCount, MeasureCopyBandwidth(), ProbeNvidia());
    }

    /// <summary>MemTotal and MemAvailable (kB lines) in bytes; 0 when absent.</summary>
    internal static (long Total, long Available) ReadMemInfo(string meminfo)
    {
        long total = 0, available = 0;
        foreach (var line in meminfo.Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kb))
            {
                if (parts[0] == "MemTotal:")
                {
                    total = kb * 1024;
                }
                else if (parts[0] == "MemAvailable:")
                {
                    available = kb * 1024;
                }
            }
        }

        return (total, available);
    }

    /// <summary>Bytes copied per second, best of 4 copies of 256 MiB (the first touch of the pages excluded).</summary>
    private static double MeasureCopyBandwidth()
    {
        const int size = 256 << 20;
        var source = GC.AllocateUninitializedArray<byte>(size);
        var target = GC.AllocateUninitializedArray<byte>(size);
        source.AsSpan().Fill(1);
        target.AsSpan().Clear();
        var best = double.MaxValue;
        for (var i = 0; i < 4; i++)
        {
            var start = Stopwatch.GetTimestamp();
            source.AsSpan().CopyTo(target);
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return size / best;
    }

    /// <summary>nvidia-smi's name and total memory per GPU; none when it is not on PATH or fails.</summary>
    private static IReadOnlyList<GpuInfo> ProbeNvidia()
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "nvidia-smi")).FirstOrDefault(File.Exists);
        if (path is null)
        {
            return [];
        }

        try
        {
            using var process = Process.Start(new ProcessStartInfo(path, "--query-gpu=name,memory.total --format=csv,noheader,nounits")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var text = process.StandardOutput.ReadToEnd();
            process.WaitForExit(5000);
            return ParseNvidiaSmi(text);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            return [];
        }
    }

    /// <summary>Lines "name, MiB" as nvidia-smi prints them with csv,noheader,nounits.</summary>
    internal static IReadOnlyList<GpuInfo> ParseNvidiaSmi(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(',', StringSplitOptions.TrimEntries))
            .Where(p => p.Length == 2 && long.TryParse(p[1], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(p => new GpuInfo(p[0], long.Parse(p[1], CultureInfo.InvariantCulture) << 20))
            .ToList();
}
