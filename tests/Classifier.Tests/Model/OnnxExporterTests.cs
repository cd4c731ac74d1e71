using InferenceMesh.Classifier.Model;
using InferenceMesh.ClassifierTraining.Data;
using InferenceMesh.ClassifierTraining.Onnx;
using InferenceMesh.ClassifierTraining.Training;
using InferenceMesh.Tests;

namespace InferenceMesh.Classifier.Tests.Model;

/// <summary>A tiny model trained in the test itself (seeded, well under a second).</summary>
internal static class TinyModels
{
    public static readonly int[] HeadSizes = [4, 7, 3];

    public static IReadOnlyList<LabelledPrompt> Prompts(int seed, int count) => PromptGenerator.Generate(seed, count, heldOutTemplates: false);

    public static MlpModel Train(int seed, int hidden, int epochs)
    {
        var examples = Prompts(seed, 56).Select(ToExample).ToArray();
        var options = new TrainerOptions { Seed = seed, Hidden = hidden, MaxEpochs = epochs, Patience = epochs };
        return MlpTrainer.Train(examples[..48], examples[48..], PromptFeaturiser.Width, HeadSizes, options).Model;
    }

    public static TrainingExample ToExample(LabelledPrompt prompt)
    {
        var dense = new float[PromptFeaturiser.Width];
        PromptFeaturiser.Featurise(prompt.Text, dense);
        return new TrainingExample(SparseVector.FromDense(dense), [(int)prompt.Privacy, (int)prompt.Task, (int)prompt.Complexity]);
    }
}

public sealed class OnnxExporterTests
{
    [Fact]
    public void Exported_model_matches_the_managed_forward_pass_in_onnx_runtime()
    {
        var trained = TinyModels.Train(seed: 11, hidden: 8, epochs: 3);
        var path = Path.Combine(TestPaths.NewTempDir("im-export"), "tiny.onnx");
        File.WriteAllBytes(path, OnnxExporter.Export(trained, OnnxExporter.StandardMetadata(11, "test", 8)));

        using var onnx = PromptModelFactory.Create(new PromptModelOptions { ModelPath = path });

        var texts = TinyModels.Prompts(99, 20).Select(p => p.Text).Append("").Append("日本語のテキスト");
        foreach (var text in texts)
        {
            var dense = new float[PromptFeaturiser.Width];
            PromptFeaturiser.Featurise(text, dense);
            var expected = trained.Forward(dense);
            var (privacy, task, complexity) = onnx.PredictDistributions(text);
            AssertClose(expected[0], privacy);
            AssertClose(expected[1], task);
            AssertClose(expected[2], complexity);
        }

        Assert.Equal("11", onnx.Metadata[PromptModelMetadata.TrainingSeedKey]);
        Assert.Equal("test", onnx.Metadata[PromptModelMetadata.DatasetVersionKey]);
    }

    [Fact]
    public void Training_and_export_are_deterministic()
    {
        var metadata = OnnxExporter.StandardMetadata(5, "test", 4);

        var first = OnnxExporter.Export(TinyModels.Train(seed: 5, hidden: 4, epochs: 2), metadata);
        var second = OnnxExporter.Export(TinyModels.Train(seed: 5, hidden: 4, epochs: 2), metadata);

        Assert.Equal(first, second);
    }

    [Fact]
    public void Generator_is_deterministic_and_balanced()
    {
        var first = PromptGenerator.Generate(1, 280, heldOutTemplates: false);
        var second = PromptGenerator.Generate(1, 280, heldOutTemplates: false);

        Assert.Equal(first, second);
        Assert.All(Enum.GetValues<PrivacyLevel>(), level => Assert.Equal(70, first.Count(p => p.Privacy == level)));
        Assert.All(Enum.GetValues<TaskType>(), task => Assert.Equal(40, first.Count(p => p.Task == task)));
    }

    [Fact]
    public void Held_out_templates_never_appear_in_the_main_data()
    {
        static HashSet<string> Parts(IEnumerable<LabelledPrompt> prompts) =>
            prompts.SelectMany(p => p.Template.Split('+')).ToHashSet();

        var main = Parts(PromptGenerator.Generate(2, 2000, heldOutTemplates: false));
        var hard = Parts(PromptGenerator.Generate(3, 500, heldOutTemplates: true));

        Assert.Empty(main.Intersect(hard));
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4, $"index {i}: managed {expected[i]}, ONNX Runtime {actual[i]}");
        }
    }
}
