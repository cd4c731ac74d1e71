using System.Globalization;
using System.Text;

namespace InferenceMesh.Bench.LocalInference;

/// <summary>Turns the measured results into one Markdown table: absolute numbers and gateway / llama-server ratios.</summary>
internal static class Report
{
    public const string Gateway = "gateway";
    public const string Reference = "llama-server";

    /// <summary>An older gateway build measured in the same run (GATEWAY_BASELINE_BIN), for before/after ratios.</summary>
    public const string Baseline = "gateway-baseline";

    private enum Goal
    {
        HigherIsBetter,
        LowerIsBetter,
        Informational,
    }

    private sealed record Metric(string Name, string Unit, Goal Goal, Func<ServerResult, double?> Value, string Format);

    private static readonly Metric[] Metrics =
    [
        new("1 stream, end to end", "tok/s", Goal.HigherIsBetter, r => r.SingleTokensPerSecond, "F1"),
        new("1 stream, decode only", "tok/s", Goal.HigherIsBetter, r => r.SingleDecodeTokensPerSecond, "F1"),
        new("{C} streams, aggregate", "tok/s", Goal.HigherIsBetter, r => r.AggregateTokensPerSecond, "F1"),
        new("time to first token p50", "ms", Goal.LowerIsBetter, r => r.TtftP50Ms, "F2"),
        new("time to first token p90", "ms", Goal.LowerIsBetter, r => r.TtftP90Ms, "F2"),
        new("RSS after load + warm-up", "MiB", Goal.Informational, r => r.RssAfterLoadBytes / 1048576.0, "F1"),
        new("RSS after the runs", "MiB", Goal.Informational, r => r.RssAfterRunsBytes / 1048576.0, "F1"),
        new("ready after start", "s", Goal.Informational, r => r.LoadSeconds, "F1"),
    ];

    public static string Render(IReadOnlyList<ServerResult> results, string? header)
    {
        var md = new StringBuilder();
        if (!string.IsNullOrWhiteSpace(header))
        {
            md.AppendLine(header.TrimEnd()).AppendLine();
        }

        var withBaseline = results.Any(r => r.Server == Baseline);
        md.AppendLine(withBaseline
            ? "| Model | Metric | llama-server | gateway | gateway / llama-server | Goal | baseline gateway | baseline / llama-server |"
            : "| Model | Metric | llama-server | gateway | gateway / llama-server | Goal |");
        md.AppendLine(withBaseline ? "|---|---|---:|---:|---:|---|---:|---:|" : "|---|---|---:|---:|---:|---|");
        var notes = new List<string>();
        foreach (var model in results.Select(r => r.Model).Distinct())
        {
            var reference = Pool(results.Where(r => r.Model == model && r.Server == Reference).ToList());
            var gateway = Pool(results.Where(r => r.Model == model && r.Server == Gateway).ToList());
            var baseline = Pool(results.Where(r => r.Model == model && r.Server == Baseline).ToList());
            var concurrency = (gateway ?? reference)?.Concurrency ?? 0;
            foreach (var metric in Metrics)
            {
                var refValue = Value(reference, metric);
                var gwValue = Value(gateway, metric);
                var ratio = Ratio(gwValue, refValue);
                md.Append(CultureInfo.InvariantCulture, $"| {model} | {metric.Name.Replace("{C}", concurrency.ToString(CultureInfo.InvariantCulture))} ({metric.Unit}) ");
                md.Append(CultureInfo.InvariantCulture, $"| {Format(refValue, metric.Format)} | {Format(gwValue, metric.Format)} ");
                md.Append(CultureInfo.InvariantCulture, $"| {Format(ratio, "F2")} | {GoalText(metric.Goal, ratio)} |");
                if (withBaseline)
                {
                    var baseValue = Value(baseline, metric);
                    md.Append(CultureInfo.InvariantCulture, $" {Format(baseValue, metric.Format)} | {Format(Ratio(baseValue, refValue), "F2")} |");
                }

                md.AppendLine();
            }

            foreach (var r in new[] { reference, gateway, baseline })
            {
                if (r is null)
                {
                    continue;
                }

                if (r.Error is not null)
                {
                    notes.Add($"{model}, {r.Server}: FAILED: {r.Error}");
                }

                notes.AddRange(r.Warnings.Select(w => $"{model}, {r.Server}: {w}"));
            }

            if (reference is null)
            {
                notes.Add($"{model}: no llama-server result");
            }

            if (gateway is null)
            {
                notes.Add($"{model}: no gateway result");
            }
        }

        if (notes.Count > 0)
        {
            md.AppendLine().AppendLine("Notes:");
            foreach (var note in notes)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
            }
        }

        md.AppendLine().AppendLine("Raw runs (tok/s for throughput, ms for TTFT):").AppendLine();
        foreach (var r in results)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"- {r.Model}, {r.Server}: 1 stream [{Join(r.SingleRuns)}]; {r.Concurrency} streams [{Join(r.AggregateRuns)}]; TTFT [{Join(r.TtftRunsMs)}]");
        }

        return md.ToString();
    }

    /// <summary>
    /// One result from several rounds of the same server on the same model (BENCH_ROUNDS): medians and percentiles
    /// over the pooled raw runs, the median of the per-round decode-only medians, the largest RSS. Null when none.
    /// </summary>
    internal static ServerResult? Pool(IReadOnlyList<ServerResult> rounds)
    {
        if (rounds.Count <= 1)
        {
            return rounds.Count == 0 ? null : rounds[0];
        }

        var first = rounds[0];
        var single = rounds.SelectMany(r => r.SingleRuns).ToArray();
        var aggregate = rounds.SelectMany(r => r.AggregateRuns).ToArray();
        var ttft = rounds.SelectMany(r => r.TtftRunsMs).ToArray();
        return new ServerResult
        {
            Model = first.Model,
            Server = first.Server,
            Threads = first.Threads,
            Concurrency = first.Concurrency,
            MaxTokens = first.MaxTokens,
            LoadSeconds = Measurement.Median(rounds.Where(r => r.LoadSeconds is not null).Select(r => r.LoadSeconds!.Value)),
            SingleTokensPerSecond = Measurement.Median(single),
            SingleDecodeTokensPerSecond = Measurement.Median(rounds.Where(r => r.SingleDecodeTokensPerSecond is not null).Select(r => r.SingleDecodeTokensPerSecond!.Value)),
            AggregateTokensPerSecond = Measurement.Median(aggregate),
            TtftP50Ms = Measurement.Percentile(ttft, 0.5),
            TtftP90Ms = Measurement.Percentile(ttft, 0.9),
            RssAfterLoadBytes = rounds.Max(r => r.RssAfterLoadBytes),
            RssAfterRunsBytes = rounds.Max(r => r.RssAfterRunsBytes),
            SingleRuns = single,
            AggregateRuns = aggregate,
            TtftRunsMs = ttft,
            Warnings = [.. rounds.SelectMany(r => r.Warnings)],
            Error = rounds.Select(r => r.Error).FirstOrDefault(e => e is not null),
        };
    }

    private static double? Ratio(double? value, double? reference) =>
        reference is > 0 && value is { } v ? v / reference.Value : null;

    private static double? Value(ServerResult? result, Metric metric)
    {
        if (result is null)
        {
            return null;
        }

        var value = metric.Value(result);
        return value is { } v && double.IsFinite(v) ? v : null;
    }

    private static string GoalText(Goal goal, double? ratio) => (goal, ratio) switch
    {
        (Goal.Informational, _) => "",
        (_, null) => "n/a",
        (Goal.HigherIsBetter, { } r) => r >= 1.0 ? "≥ 1.0 met" : "≥ 1.0 MISSED",
        (Goal.LowerIsBetter, { } r) => r <= 1.0 ? "≤ 1.0 met" : "≤ 1.0 MISSED",
        _ => "",
    };

    private static string Format(double? value, string format) =>
        value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "—";

    private static string Join(double[] values) =>
        string.Join(", ", values.Select(v => v.ToString("0.##", CultureInfo.InvariantCulture)));
}
