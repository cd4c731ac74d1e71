using BenchmarkDotNet.Running;
using InferenceMesh.Bench.Classifier;

// Classifier.Bench                 BenchmarkDotNet (ShortRun) over the classifier
// Classifier.Bench --per-call [N]  every call timed alone: mean and p50/p95/p99/p99.9/max (default N = 20000)
if (args is ["--per-call", ..])
{
    PerCallLatency.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20_000);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(ClassifierBenchmarks).Assembly).Run(args);
