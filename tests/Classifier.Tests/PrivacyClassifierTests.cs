using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.Classifier.Tests;

public sealed class PrivacyClassifierTests
{
    private const string PlainPrompt = "Summarise the plot of Hamlet in three sentences.";
    private const string CardPrompt = "My card is 4111 1111 1111 1111, why was it declined?";
    private const string KeyPrompt = "Why does boto fail with AKIAIOSFODNN7EXAMPLE?";

    private static PrivacyClassifier Create(IPromptModel? model, PrivacyClassifierOptions? options = null, ILogger<PrivacyClassifier>? logger = null) =>
        new(model, options ?? new PrivacyClassifierOptions(), logger ?? NullLogger<PrivacyClassifier>.Instance);

    private static ModelPrediction Predict(PrivacyLevel level, float confidence) =>
        new(level, confidence, TaskType.Chat, 0.9f, Complexity.Low, 0.9f);

    [Fact]
    public void Detectors_stricter_than_the_model_win()
    {
        var classifier = Create(new FixedPromptModel(Predict(PrivacyLevel.Public, 0.99f)));

        var result = classifier.Classify(CardPrompt);

        Assert.Equal(PrivacyLevel.Confidential, result.Privacy);
        Assert.Equal(PrivacyLevel.Confidential, result.DetectorPrivacy);
        Assert.Equal(PrivacyLevel.Public, result.Model!.Privacy);
        Assert.False(result.Unsure);
        var finding = Assert.Single(result.Findings);
        Assert.Equal(FindingKind.PaymentCard, finding.Kind);
    }

    [Fact]
    public void Detectors_only_text_is_scanned_by_the_detectors_and_never_shown_to_the_model()
    {
        var model = new RecordingPromptModel(Predict(PrivacyLevel.Public, 0.99f));
        const string toolCall = "type\nfunction\narguments\n{\"card\":\"4111 1111 1111 1111\"}";

        var result = Create(model).Classify(PlainPrompt, toolCall);

        Assert.Equal([PlainPrompt], model.Seen);
        Assert.Equal(PrivacyLevel.Confidential, result.Privacy);
        var finding = Assert.Single(result.Findings);
        Assert.Equal(FindingKind.PaymentCard, finding.Kind);
        Assert.Equal(PlainPrompt.Length + 1 + toolCall.IndexOf("4111", StringComparison.Ordinal), finding.Start); // counted from the prompt's start

        // Nothing extra: the same as the one-argument call.
        Assert.Equal(PrivacyLevel.Public, Create(model).Classify(PlainPrompt, string.Empty).Privacy);
    }

    [Fact]
    public void A_model_stricter_than_the_detectors_wins()
    {
        var classifier = Create(new FixedPromptModel(Predict(PrivacyLevel.Confidential, 0.95f)));

        var result = classifier.Classify(PlainPrompt);

        Assert.Equal(PrivacyLevel.Confidential, result.Privacy);
        Assert.Equal(PrivacyLevel.Public, result.DetectorPrivacy);
        Assert.Empty(result.Findings);
        Assert.False(result.Unsure);
    }

    [Fact]
    public void A_sure_public_model_and_no_findings_is_public()
    {
        var result = Create(new FixedPromptModel(Predict(PrivacyLevel.Public, 0.9f))).Classify(PlainPrompt);

        Assert.Equal(PrivacyLevel.Public, result.Privacy);
        Assert.False(result.Unsure);
    }

    [Theory]
    [InlineData(PrivacyLevel.Public, PrivacyLevel.Internal)]
    [InlineData(PrivacyLevel.Internal, PrivacyLevel.Confidential)]
    [InlineData(PrivacyLevel.Confidential, PrivacyLevel.Restricted)]
    [InlineData(PrivacyLevel.Restricted, PrivacyLevel.Restricted)]
    public void An_unsure_model_counts_one_level_stricter(PrivacyLevel said, PrivacyLevel taken)
    {
        var prediction = Predict(said, 0.59f);
        var result = Create(new FixedPromptModel(prediction)).Classify(PlainPrompt);

        Assert.Equal(taken, result.Privacy);
        Assert.True(result.Unsure);
        Assert.Same(prediction, result.Model);
    }

    [Fact]
    public void Confidence_at_the_threshold_is_sure_and_the_threshold_is_an_option()
    {
        Assert.False(Create(new FixedPromptModel(Predict(PrivacyLevel.Public, 0.6f))).Classify(PlainPrompt).Unsure);

        var strict = Create(new FixedPromptModel(Predict(PrivacyLevel.Public, 0.8f)), new PrivacyClassifierOptions { UnsureBelowConfidence = 0.9f });
        var result = strict.Classify(PlainPrompt);
        Assert.True(result.Unsure);
        Assert.Equal(PrivacyLevel.Internal, result.Privacy);
    }

    [Fact]
    public void A_nan_confidence_is_unsure() =>
        Assert.True(Create(new FixedPromptModel(Predict(PrivacyLevel.Public, float.NaN))).Classify(PlainPrompt).Unsure);

    [Fact]
    public void Unsure_model_and_detectors_take_the_stricter_of_both()
    {
        var result = Create(new FixedPromptModel(Predict(PrivacyLevel.Public, 0.1f))).Classify(KeyPrompt);

        Assert.Equal(PrivacyLevel.Restricted, result.Privacy);
        Assert.Equal(PrivacyLevel.Restricted, result.DetectorPrivacy);
        Assert.True(result.Unsure);
    }

    [Fact]
    public void A_throwing_model_fails_closed_to_confidential_and_logs_once_without_text()
    {
        var logger = new RecordingLogger();
        var classifier = Create(new ThrowingPromptModel(), logger: logger);

        var first = classifier.Classify(PlainPrompt);
        var second = classifier.Classify(PlainPrompt);

        foreach (var result in new[] { first, second })
        {
            Assert.Equal(PrivacyLevel.Confidential, result.Privacy);
            Assert.True(result.Unsure);
            Assert.Null(result.Model);
        }

        var entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Equal("PromptModelFailed", entry.EventName);
        Assert.DoesNotContain("Hamlet", entry.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(ThrowingPromptModel.MessageQuotingInput, entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_throwing_model_does_not_lower_what_the_detectors_found()
    {
        var result = Create(new ThrowingPromptModel()).Classify(KeyPrompt);

        Assert.Equal(PrivacyLevel.Restricted, result.Privacy);
        Assert.Equal(FindingKind.CloudAccessKey, Assert.Single(result.Findings).Kind);
    }

    [Fact]
    public void An_out_of_range_prediction_fails_closed() =>
        Assert.Equal(PrivacyLevel.Confidential, Create(new FixedPromptModel(Predict((PrivacyLevel)42, 0.99f))).Classify(PlainPrompt).Privacy);

    [Fact]
    public void No_model_fails_closed_and_says_so_at_start()
    {
        var logger = new RecordingLogger();
        var result = Create(model: null, logger: logger).Classify(PlainPrompt);

        Assert.Equal(PrivacyLevel.Confidential, result.Privacy);
        Assert.True(result.Unsure);
        Assert.Equal("PromptModelUnavailable", Assert.Single(logger.Entries).EventName);
    }

    [Fact]
    public void Options_defaults()
    {
        var options = new PrivacyClassifierOptions();

        Assert.Equal(0.6f, options.UnsureBelowConfidence);
        options.Validate();
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void Invalid_options_are_refused_with_a_clear_message(float threshold)
    {
        var options = new PrivacyClassifierOptions { UnsureBelowConfidence = threshold };

        var error = Assert.Throws<ValidationException>(options.Validate);
        Assert.Equal("The field UnsureBelowConfidence must be between 0 and 1.", error.Message);
        Assert.Throws<ValidationException>(() => new ServiceCollection().AddPrivacyClassifier(options));
    }

    [Fact]
    public void Registration_keeps_a_model_registered_before_it()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IPromptModel>(new FixedPromptModel(Predict(PrivacyLevel.Internal, 0.99f)));
        services.AddPrivacyClassifier();
        using var provider = services.BuildServiceProvider();

        var classifier = provider.GetRequiredService<IPrivacyClassifier>();

        Assert.Same(classifier, provider.GetRequiredService<IPrivacyClassifier>());
        Assert.Equal(PrivacyLevel.Internal, classifier.Classify(PlainPrompt).Privacy);
    }

    [Fact]
    public void A_model_that_fails_to_load_fails_closed_instead_of_failing_the_host()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IPromptModel>(_ => throw new InvalidDataException("model file is corrupt"));
        services.AddPrivacyClassifier();
        using var provider = services.BuildServiceProvider();

        var result = provider.GetRequiredService<IPrivacyClassifier>().Classify(PlainPrompt);

        Assert.Equal(PrivacyLevel.Confidential, result.Privacy);
        Assert.True(result.Unsure);
    }

    [Fact]
    public void The_registration_wires_the_embedded_onnx_model()
    {
        var services = new ServiceCollection();
        services.AddPrivacyClassifier();
        using var provider = services.BuildServiceProvider();
        var classifier = provider.GetRequiredService<IPrivacyClassifier>();

        var plain = classifier.Classify(PlainPrompt);
        var card = classifier.Classify(CardPrompt);

        // the real model answers (no fail-closed), and never lowers what the detectors found
        Assert.NotNull(plain.Model);
        Assert.NotNull(card.Model);
        Assert.Equal(plain.Privacy, (PrivacyLevel)Math.Max((int)plain.DetectorPrivacy, (int)(plain.Unsure ? PrivacyClassifier.StricterWhenUnsure(plain.Model.Privacy) : plain.Model.Privacy)));
        Assert.True(card.Privacy >= PrivacyLevel.Confidential);
    }

    /// <summary>A stand-in for the ONNX model: always answers the same prediction.</summary>
    private sealed class FixedPromptModel(ModelPrediction prediction) : IPromptModel
    {
        public ModelPrediction Predict(string text) => prediction;
    }

    /// <summary>A stand-in for the ONNX model that keeps every text it was asked about.</summary>
    private sealed class RecordingPromptModel(ModelPrediction prediction) : IPromptModel
    {
        public List<string> Seen { get; } = [];

        public ModelPrediction Predict(string text)
        {
            Seen.Add(text);
            return prediction;
        }
    }

    /// <summary>A stand-in for a broken ONNX model, whose error message quotes its input (as some do).</summary>
    private sealed class ThrowingPromptModel : IPromptModel
    {
        public const string MessageQuotingInput = "cannot featurise";

        public ModelPrediction Predict(string text) => throw new InvalidOperationException($"{MessageQuotingInput}: {text}");
    }

    /// <summary>Keeps what was logged, formatted, to check that no text leaks into it.</summary>
    private sealed class RecordingLogger : ILogger<PrivacyClassifier>
    {
        public List<(LogLevel Level, string? EventName, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, eventId.Name, formatter(state, exception) + exception?.Message));
    }
}
