using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using InferenceMesh.Classifier;
using InferenceMesh.Classifier.Model;
using InferenceMesh.ClassifierTraining.Data;
using InferenceMesh.ClassifierTraining.Evaluation;
using InferenceMesh.ClassifierTraining.Onnx;
using InferenceMesh.ClassifierTraining.Training;

namespace InferenceMesh.ClassifierTraining;

/// <summary>
/// Rebuilds the prompt model:
/// <c>dotnet run -c Release --project tools/ClassifierTraining -- --out src/Classifier/Model/prompt-classifier.onnx --report docs/classifier.md</c>.
/// <c>--bench [model.onnx]</c> instead measures the per-call latency of the runtime on an 8 KB prompt.
/// </summary>
internal static class Program
{
    private const string ReportBegin = "<!-- BEGIN GENERATED: training report (tools/ClassifierTraining) -->";
    private const string ReportEnd = "<!-- END GENERATED -->";

    public static int Main(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"Unexpected argument '{args[i]}'.");
                return 2;
            }

            var name = args[i][2..];
            options[name] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "";
        }

        if (options.TryGetValue("bench", out var benchModel))
        {
            return Bench(benchModel.Length > 0 ? benchModel : null);
        }

        if (!options.TryGetValue("out", out var output) || output.Length == 0)
        {
            Console.Error.WriteLine(
                "usage: --out <model.onnx> [--report <docs/classifier.md>] [--seed N] [--count N] [--hard-count N] [--hidden N] [--epochs N]\n" +
                "       --bench [model.onnx]");
            return 2;
        }

        var trainer = new TrainerOptions();
        var seed = Int(options, "seed", trainer.Seed);
        trainer = trainer with
        {
            Seed = seed,
            Hidden = Int(options, "hidden", trainer.Hidden),
            MaxEpochs = Int(options, "epochs", trainer.MaxEpochs),
        };
        var count = Int(options, "count", 7000);
        var hardCount = Int(options, "hard-count", 1400);
        return Train(output, options.GetValueOrDefault("report"), trainer, count, hardCount);
    }

    private static int Train(string output, string? report, TrainerOptions trainer, int count, int hardCount)
    {
        var clock = Stopwatch.StartNew();
        var seed = trainer.Seed;

        // Data: one seeded pool split 80/20, and a second split drawn only from held-out templates.
        var pool = PromptGenerator.Generate(seed, count, heldOutTemplates: false).ToArray();
        new Random(seed ^ 0x5EED).Shuffle(pool);
        var heldOutStart = (int)(pool.Length * 0.8);
        var trainPool = pool[..heldOutStart];
        var heldOut = pool[heldOutStart..];
        var hard = PromptGenerator.Generate(seed + 1, hardCount, heldOutTemplates: true);
        var validationStart = (int)(trainPool.Length * 0.9);
        Console.WriteLine($"data {PromptGenerator.DatasetVersion}: {trainPool.Length} train ({trainPool.Length - validationStart} of them validation), {heldOut.Length} held-out, {hard.Count} held-out-templates");

        var train = trainPool[..validationStart].Select(ToExample).ToArray();
        var validation = trainPool[validationStart..].Select(ToExample).ToArray();
        Console.WriteLine($"featurised in {clock.ElapsedMilliseconds} ms; training {PromptFeaturiser.Width} → {trainer.Hidden} → (4, 7, 3), seed {seed}");

        var result = MlpTrainer.Train(train, validation, PromptFeaturiser.Width, HeadSizes, trainer, Console.WriteLine);
        Console.WriteLine($"best epoch {result.BestEpoch} (validation loss {result.BestValidationLoss:F4}) after {clock.Elapsed.TotalSeconds:F1} s");

        var metadata = OnnxExporter.StandardMetadata(seed, PromptGenerator.DatasetVersion, trainer.Hidden);
        var bytes = OnnxExporter.Export(result.Model, metadata);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllBytes(output, bytes);
        Console.WriteLine($"wrote {output}: {bytes.Length:N0} bytes, sha256 {Convert.ToHexStringLower(SHA256.HashData(bytes))}");

        // Evaluate the exported file through the real runtime, exactly as the gateway will run it.
        using var model = OnnxPromptModel.Load(bytes, output, new PromptModelOptions());
        var maxDifference = heldOut.Take(50).Max(p => MaxDifference(model, result.Model, p.Text));
        Console.WriteLine($"ONNX Runtime vs managed forward pass: max |Δp| = {maxDifference:E2}");
        var heldOutMetrics = Evaluate(model, heldOut);
        var hardMetrics = Evaluate(model, hard);
        foreach (var (name, metrics) in new[] { ("held-out", heldOutMetrics), ("held-out templates", hardMetrics) })
        {
            Console.WriteLine($"{name}: " + string.Join(", ", metrics.Select(m => $"{m.Head} acc {m.Accuracy:F3} macro-F1 {m.MacroF1:F3}")));
        }

        if (!string.IsNullOrEmpty(report))
        {
            var section = ReportSection(trainer, result, bytes, trainPool.Length, validation.Length, heldOutMetrics, hardMetrics, maxDifference);
            WriteReport(report, section);
            Console.WriteLine($"updated the generated section of {report}");
        }

        return 0;
    }

    private static readonly int[] HeadSizes =
        [PromptModelMetadata.PrivacyLabels.Count, PromptModelMetadata.TaskLabels.Count, PromptModelMetadata.ComplexityLabels.Count];

    internal static TrainingExample ToExample(LabelledPrompt prompt)
    {
        var dense = new float[PromptFeaturiser.Width];
        PromptFeaturiser.Featurise(prompt.Text, dense);
        return new TrainingExample(SparseVector.FromDense(dense), [(int)prompt.Privacy, (int)prompt.Task, (int)prompt.Complexity]);
    }

    private static double MaxDifference(OnnxPromptModel onnx, MlpModel managed, string text)
    {
        var dense = new float[PromptFeaturiser.Width];
        PromptFeaturiser.Featurise(text, dense);
        var expected = managed.Forward(dense);
        var (privacy, task, complexity) = onnx.PredictDistributions(text);
        return new[] { privacy, task, complexity }
            .Zip(expected, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
    }

    private static HeadMetrics[] Evaluate(OnnxPromptModel model, IReadOnlyList<LabelledPrompt> prompts)
    {
        HeadMetrics[] metrics =
        [
            new("privacy", PromptModelMetadata.PrivacyLabels),
            new("task", PromptModelMetadata.TaskLabels),
            new("complexity", PromptModelMetadata.ComplexityLabels),
        ];
        foreach (var prompt in prompts)
        {
            var prediction = model.Predict(prompt.Text);
            metrics[0].Add((int)prompt.Privacy, (int)prediction.Privacy);
            metrics[1].Add((int)prompt.Task, (int)prediction.Task);
            metrics[2].Add((int)prompt.Complexity, (int)prediction.Complexity);
        }

        return metrics;
    }

    private static string ReportSection(
        TrainerOptions trainer, TrainingResult result, byte[] bytes, int trainCount, int validationCount,
        HeadMetrics[] heldOut, HeadMetrics[] hard, double maxDifference)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(ReportBegin);
        sb.AppendLine("_Written by the training tool; do not edit by hand. Deterministic: the same seed gives the same text._");
        sb.AppendLine();
        sb.AppendLine(inv, $"- Data set `{PromptGenerator.DatasetVersion}`, seed {trainer.Seed}: {trainCount} training prompts ({validationCount} of them the early-stopping validation slice), {heldOut[0].Total} held-out prompts (same templates, unseen samples), {hard[0].Total} prompts from held-out templates (frames and content variants never seen in training).");
        sb.AppendLine(inv, $"- Model: {PromptFeaturiser.Width} inputs ({PromptFeaturiser.WordBuckets} word + {PromptFeaturiser.CharBuckets} char buckets + {PromptFeaturiser.DenseWidth} dense) → {trainer.Hidden} ReLU → softmax heads 4 / 7 / 3; {result.Model.ParameterCount:N0} parameters; best epoch {result.BestEpoch} of at most {trainer.MaxEpochs} (validation loss {result.BestValidationLoss:F4}).");
        sb.AppendLine(inv, $"- File: {bytes.Length:N0} bytes, SHA-256 `{Convert.ToHexStringLower(SHA256.HashData(bytes))}`; featuriser fingerprint `{PromptFeaturiser.Fingerprint}`.");
        sb.AppendLine(inv, $"- ONNX Runtime output vs the trainer's managed forward pass on 50 held-out prompts: max |Δp| = {maxDifference:E1}.");
        sb.AppendLine();
        foreach (var (title, metrics) in new[] { ("Held-out split (unseen samples of seen templates)", heldOut), ("Held-out templates (harder)", hard) })
        {
            sb.AppendLine(inv, $"### {title}");
            sb.AppendLine();
            foreach (var head in metrics)
            {
                sb.AppendLine(head.ToMarkdownTable());
            }

            sb.AppendLine("Privacy confusion matrix:");
            sb.AppendLine();
            sb.AppendLine(metrics[0].ConfusionToMarkdown());
        }

        sb.Append(ReportEnd);
        return sb.ToString();
    }

    private static void WriteReport(string path, string section)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : "# Prompt classifier\n\n## Training report\n\n";
        var begin = text.IndexOf(ReportBegin, StringComparison.Ordinal);
        var end = text.IndexOf(ReportEnd, StringComparison.Ordinal);
        text = begin >= 0 && end > begin
            ? text[..begin] + section + text[(end + ReportEnd.Length)..]
            : text.TrimEnd() + "\n\n" + section + "\n";
        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
    }

    private static int Bench(string? modelPath)
    {
        using var model = PromptModelFactory.Create(new PromptModelOptions { ModelPath = modelPath });
        var sb = new StringBuilder();
        var random = new Random(42);
        var prompts = PromptGenerator.Generate(7, 400, heldOutTemplates: false);
        while (sb.Length < 8192)
        {
            sb.Append(prompts[random.Next(prompts.Count)].Text).Append('\n');
        }

        var text = sb.ToString(0, 8192);
        var vector = new float[PromptFeaturiser.Width];
        for (var i = 0; i < 500; i++)
        {
            model.Predict(text);
        }

        var featurise = Measure(2000, () => PromptFeaturiser.Featurise(text, vector));
        var predict = Measure(2000, () => model.Predict(text));
        Console.WriteLine($"8 KB prompt, one thread: featurise p50 {featurise.P50:F1} µs p99 {featurise.P99:F1} µs; Predict (featurise + ONNX Runtime) p50 {predict.P50:F1} µs p99 {predict.P99:F1} µs");
        return 0;
    }

    private static (double P50, double P99) Measure(int iterations, Action action)
    {
        var samples = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            action();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        Array.Sort(samples);
        return (samples[iterations / 2], samples[(int)(iterations * 0.99)]);
    }

    private static int Int(Dictionary<string, string> options, string name, int fallback) =>
        options.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;
}
