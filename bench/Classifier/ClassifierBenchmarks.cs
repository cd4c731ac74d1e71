using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using InferenceMesh.Classifier;

namespace InferenceMesh.Bench.Classifier;

/// <summary>
/// BenchmarkDotNet view: mean, P95, P100 and a P99 column over iterations (each iteration averages many calls).
/// For the per-call p99 the 1 ms budget is about, see <see cref="PerCallLatency"/>.
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class ClassifierBenchmarks
{
    private IPrivacyClassifier _detectorsOnly = null!;
    private IPrivacyClassifier? _withModel;

    [GlobalSetup]
    public void Setup()
    {
        _detectorsOnly = Classifiers.DetectorsOnly();
        _withModel = Classifiers.WithModel();
    }

    [Benchmark(Baseline = true, Description = "detectors, 8 KB mixed")]
    public Classification DetectorsMixed() => _detectorsOnly.Classify(Prompts.Mixed);

    [Benchmark(Description = "detectors, 8 KB clean")]
    public Classification DetectorsClean() => _detectorsOnly.Classify(Prompts.Clean);

    [Benchmark(Description = "detectors + model, 8 KB mixed")]
    public Classification? WithModelMixed() => _withModel?.Classify(Prompts.Mixed);

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.ShortRun);
            AddColumn(StatisticColumn.P95, new PercentileColumn(99), StatisticColumn.P100);
        }
    }

    /// <summary>A percentile of the iteration times, which BenchmarkDotNet computes but has no ready column for at 99.</summary>
    private sealed class PercentileColumn(int percentile) : IColumn
    {
        public string Id => $"P{percentile}";
        public string ColumnName => $"P{percentile}";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Statistics;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => $"Percentile {percentile} of the iteration times";

        public string GetValue(Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase) =>
            GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var statistics = summary[benchmarkCase]?.ResultStatistics;
            if (statistics is null)
            {
                return "NA";
            }

            // always in microseconds, whatever unit the other columns chose
            var nanoseconds = statistics.Percentiles.Percentile(percentile);
            return (nanoseconds / 1000).ToString("N2", style.CultureInfo) + " μs";
        }

        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
