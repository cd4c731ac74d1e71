using System.ComponentModel.DataAnnotations;
using InferenceMesh.Classifier.Model;
using InferenceMesh.ClassifierTraining.Onnx;
using InferenceMesh.ClassifierTraining.Training;
using InferenceMesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.Classifier.Tests.Model;

/// <summary>The committed model, loaded by the real ONNX Runtime.</summary>
public sealed class OnnxPromptModelTests : IClassFixture<OnnxPromptModelTests.CommittedModel>
{
    private readonly OnnxPromptModel _model;

    public OnnxPromptModelTests(CommittedModel fixture) => _model = fixture.Model;

    public sealed class CommittedModel : IDisposable
    {
        internal OnnxPromptModel Model { get; } = PromptModelFactory.Create(new PromptModelOptions());

        public void Dispose() => Model.Dispose();
    }

    [Theory]
    [InlineData("hi")]
    [InlineData("")]
    [InlineData("Translate 'good morning' into Portuguese, please.")]
    public void Outputs_are_probability_distributions(string text)
    {
        var (privacy, task, complexity) = _model.PredictDistributions(text);

        Assert.Equal(4, privacy.Length);
        Assert.Equal(7, task.Length);
        Assert.Equal(3, complexity.Length);
        foreach (var head in new[] { privacy, task, complexity })
        {
            Assert.All(head, p => Assert.InRange(p, 0f, 1f));
            Assert.Equal(1.0, head.Sum(), 4);
        }
    }

    // Fresh prompts, written for this test and not produced by the generator.
    [Theory]
    [InlineData("Why is the sky blue during the day but red at sunset?", PrivacyLevel.Public)]
    [InlineData("Write a short poem about a fox crossing a frozen river at dawn.", PrivacyLevel.Public)]
    [InlineData("How do I reset my password on a new router? The manual is no help.", PrivacyLevel.Public)]
    [InlineData("Can you check this config? AWS_ACCESS_KEY_ID=AKIAQ3EGRTY7PLMN2ZXC AWS_SECRET_ACCESS_KEY=9fGh2KlmN0pQrStUvWxYz1234567890AbCdEfGhI", PrivacyLevel.Restricted)]
    [InlineData("Patient: Marta Lindqvist, DOB 1961-03-14, MRN 55120934, SSN 412-55-0192. Summarise her admission notes.", PrivacyLevel.Restricted)]
    [InlineData("Here is the DB login for prod, user admin password Kj8#mQ2!vLx9, why does the connection time out?", PrivacyLevel.Restricted)]
    public void Clear_cases_are_classified_correctly(string text, PrivacyLevel expected)
    {
        var prediction = _model.Predict(text);

        Assert.Equal(expected, prediction.Privacy);
        Assert.InRange(prediction.PrivacyConfidence, 0.25f, 1f);
    }

    [Fact]
    public void Task_of_clear_cases_is_recognised()
    {
        Assert.Equal(TaskType.Translate, _model.Predict("Please translate this into German: \"The museum opens at nine on weekdays.\"").Task);
        Assert.Equal(TaskType.Code, _model.Predict("Fix the bug in this code:\n```\nfor (int i = 0; i <= items.Length; i++) { Console.WriteLine(items[i]); }\n```").Task);
    }

    [Fact]
    public void Committed_model_metadata_matches_the_featuriser()
    {
        Assert.Empty(PromptModelMetadata.FindMismatches(_model.Metadata));
        Assert.Equal(PromptFeaturiser.Fingerprint, _model.Metadata[PromptModelMetadata.FingerprintKey]);
        Assert.Equal("4104", _model.Metadata[PromptModelMetadata.InputWidthKey]);
        Assert.Equal("public,internal,confidential,restricted", _model.Metadata[PromptModelMetadata.PrivacyLabelsKey]);
        Assert.True(_model.Metadata.ContainsKey(PromptModelMetadata.TrainingSeedKey));
        Assert.True(_model.Metadata.ContainsKey(PromptModelMetadata.DatasetVersionKey));
    }

    [Fact]
    public void Committed_file_is_the_embedded_resource_and_small()
    {
        var embedded = PromptModelFactory.ReadEmbeddedModel();
        var committed = File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "src", "Classifier", "Model", "prompt-classifier.onnx"));

        Assert.Equal(committed, embedded);
        Assert.InRange(embedded.Length, 1, 1024 * 1024);
    }

    [Fact]
    public void Concurrent_calls_agree_with_sequential_ones()
    {
        string[] texts = ["Explain recursion.", "Summarise the Q3 roadmap for Project Nimbus.", "password: hunter2", "Write a limerick about tea."];
        var expected = texts.Select(_model.Predict).ToArray();

        var results = new ModelPrediction[200];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => results[i] = _model.Predict(texts[i % texts.Length]));

        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal(expected[i % texts.Length], results[i]);
        }
    }
}

public sealed class PromptModelLoadingTests
{
    [Fact]
    public void Options_defaults()
    {
        var options = new PromptModelOptions();

        Assert.Null(options.ModelPath);
        Assert.Equal(1, options.IntraOpNumThreads);
        Assert.Equal(Math.Max(2, Environment.ProcessorCount * 2), options.MaxPooledBuffers);
    }

    [Fact]
    public void Invalid_options_are_refused_with_the_field_named()
    {
        var ex = Assert.Throws<ValidationException>(() => PromptModelFactory.CreateDefault(new PromptModelOptions { IntraOpNumThreads = 0 }));

        Assert.Equal("The field IntraOpNumThreads must be between 1 and 64.", ex.Message);
    }

    [Fact]
    public void Missing_file_is_refused_clearly()
    {
        var path = Path.Combine(TestPaths.NewTempDir("im-model"), "absent.onnx");

        var ex = Assert.Throws<InvalidDataException>(() => PromptModelFactory.CreateDefault(new PromptModelOptions { ModelPath = path }));
        Assert.Contains("does not exist", ex.Message);
    }

    [Fact]
    public void Bytes_that_are_not_a_model_are_refused_clearly()
    {
        var ex = Assert.Throws<InvalidDataException>(() => OnnxPromptModel.Load([1, 2, 3, 4], "junk.onnx", new PromptModelOptions()));

        Assert.StartsWith("The prompt model 'junk.onnx' could not be loaded by ONNX Runtime", ex.Message);
        Assert.NotNull(ex.InnerException);
    }

    [Fact]
    public void Model_with_mismatched_featuriser_metadata_is_refused()
    {
        var model = TinyModels.Train(seed: 3, hidden: 4, epochs: 1);
        var metadata = new Dictionary<string, string>(OnnxExporter.StandardMetadata(3, "test", 4))
        {
            [PromptModelMetadata.WordBucketsKey] = "8192",
        };
        metadata.Remove(PromptModelMetadata.FingerprintKey);
        var path = Path.Combine(TestPaths.NewTempDir("im-model"), "mismatch.onnx");
        File.WriteAllBytes(path, OnnxExporter.Export(model, metadata));

        var ex = Assert.Throws<InvalidDataException>(() => PromptModelFactory.CreateDefault(new PromptModelOptions { ModelPath = path }));

        Assert.Contains("does not match this build's featuriser", ex.Message);
        Assert.Contains("'inference_mesh.featuriser.word_buckets' is '8192', expected '2048'", ex.Message);
        Assert.Contains("'inference_mesh.featuriser.fingerprint' is missing", ex.Message);
        Assert.Contains("dotnet run -c Release --project tools/ClassifierTraining", ex.Message);
    }

    [Fact]
    public void AddPromptModel_registers_one_disposable_singleton()
    {
        var services = new ServiceCollection().AddPromptModel();
        IPromptModel first;
        using (var provider = services.BuildServiceProvider())
        {
            first = provider.GetRequiredService<IPromptModel>();
            Assert.Same(first, provider.GetRequiredService<IPromptModel>());
            Assert.Equal(PrivacyLevel.Public, first.Predict("What is the boiling point of water at sea level?").Privacy);
        }

        Assert.Throws<ObjectDisposedException>(() => first.Predict("after dispose"));
    }
}
