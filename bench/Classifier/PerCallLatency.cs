using System.Diagnostics;
using InferenceMesh.Classifier;

namespace InferenceMesh.Bench.Classifier;

/// <summary>
/// Times every single call with <see cref="Stopwatch"/> on one thread and reports mean and percentiles per call,
/// which is what "≤ 1 ms at p99" means. Warms up first so tiering has settled.
/// </summary>
internal static class PerCallLatency
{
    public static void Run(int calls)
    {
        Console.WriteLine($"Per-call latency, {calls} calls each after {calls / 5} warm-up calls, one thread, prompt {Prompts.Mixed.Length} chars");
        Console.WriteLine();
        Console.WriteLine("| Scenario | Mean (µs) | P50 (µs) | P95 (µs) | P99 (µs) | P99.9 (µs) | Max (µs) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        Measure("detectors, 8 KB mixed", Classifiers.DetectorsOnly(), Prompts.Mixed, calls);
        Measure("detectors, 8 KB clean", Classifiers.DetectorsOnly(), Prompts.Clean, calls);
        if (Classifiers.WithModel() is { } withModel)
        {
            Measure("detectors + model, 8 KB mixed", withModel, Prompts.Mixed, calls);
        }
    }

    private static void Measure(string name, IPrivacyClassifier classifier, string prompt, int calls)
    {
        for (var i = 0; i < calls / 5; i++)
        {
            classifier.Classify(prompt);
        }

        var ticks = new long[calls];
        for (var i = 0; i < calls; i++)
        {
            var start = Stopwatch.GetTimestamp();
            classifier.Classify(prompt);
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }

        Array.Sort(ticks);
        double Micro(long t) => t * 1_000_000.0 / Stopwatch.Frequency;
        double At(double p) => Micro(ticks[Math.Min(ticks.Length - 1, (int)Math.Ceiling(p * ticks.Length) - 1)]);
        var mean = ticks.Average(t => Micro(t));
        Console.WriteLine($"| {name} | {mean:F1} | {At(0.50):F1} | {At(0.95):F1} | {At(0.99):F1} | {At(0.999):F1} | {Micro(ticks[^1]):F1} |");
    }
}
