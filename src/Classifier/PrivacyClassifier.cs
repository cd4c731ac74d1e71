using InferenceMesh.Classifier.Detectors;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Classifier;

/// <summary>
/// Combines the detectors with the prompt model. The verdict is the stricter of the detectors' level and the
/// model's; an unsure model (confidence below <see cref="PrivacyClassifierOptions.UnsureBelowConfidence"/>) counts
/// one level stricter than it said, at least Internal; a model that throws, answers nonsense or is absent counts as
/// Confidential. Either way <see cref="Classification.Unsure"/> is set. Thread-safe; never logs text.
/// </summary>
internal sealed partial class PrivacyClassifier : IPrivacyClassifier
{
    private readonly IPromptModel? _model;
    private readonly float _unsureBelow;
    private readonly ILogger _logger;
    private int _failureLogged;

    /// <param name="model">The prompt model, or null when it could not be loaded (every prompt then fails closed).</param>
    public PrivacyClassifier(IPromptModel? model, PrivacyClassifierOptions options, ILogger<PrivacyClassifier> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _model = model;
        _unsureBelow = options.UnsureBelowConfidence;
        _logger = logger;
        if (model is null)
        {
            Log.ModelUnavailable(_logger, PrivacyClassifierConstants.ModelFailureLevel);
        }
    }

    public Classification Classify(string text) => Classify(text, string.Empty);

    public Classification Classify(string text, string detectorsOnly)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(detectorsOnly);
        var detected = DetectorPipeline.Run(detectorsOnly.Length == 0 ? text : text + "\n" + detectorsOnly);
        var (modelLevel, prediction, unsure) = AskModel(text);
        var privacy = detected.Level > modelLevel ? detected.Level : modelLevel;
        return new Classification(privacy, detected.Findings, detected.Level, prediction, unsure);
    }

    private (PrivacyLevel Level, ModelPrediction? Prediction, bool Unsure) AskModel(string text)
    {
        if (_model is null)
        {
            return (PrivacyClassifierConstants.ModelFailureLevel, null, true);
        }

        ModelPrediction prediction;
        try
        {
            prediction = _model.Predict(text);
        }
        catch (Exception exception)
        {
            // The exception's message may quote the input, so only its type is logged, and only the first time.
            LogFailureOnce(exception.GetType().FullName ?? exception.GetType().Name);
            return (PrivacyClassifierConstants.ModelFailureLevel, null, true);
        }

        if (prediction is null || !Enum.IsDefined(prediction.Privacy))
        {
            LogFailureOnce("invalid prediction");
            return (PrivacyClassifierConstants.ModelFailureLevel, null, true);
        }

        // written so that NaN confidence is unsure too
        if (!(prediction.PrivacyConfidence >= _unsureBelow))
        {
            return (StricterWhenUnsure(prediction.Privacy), prediction, true);
        }

        return (prediction.Privacy, prediction, false);
    }

    internal static PrivacyLevel StricterWhenUnsure(PrivacyLevel said)
    {
        var raised = said == PrivacyLevel.Restricted ? PrivacyLevel.Restricted : said + 1;
        return raised < PrivacyClassifierConstants.UnsureFloor ? PrivacyClassifierConstants.UnsureFloor : raised;
    }

    private void LogFailureOnce(string reason)
    {
        if (Interlocked.Exchange(ref _failureLogged, 1) == 0)
        {
            Log.ModelFailed(_logger, reason, PrivacyClassifierConstants.ModelFailureLevel);
        }
    }
}
