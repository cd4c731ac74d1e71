namespace InferenceMesh.Classifier;

/// <summary>How far a prompt may travel. Ordered: a higher value is stricter.</summary>
public enum PrivacyLevel
{
    Public = 0,
    Internal = 1,
    Confidential = 2,
    Restricted = 3,
}

public enum TaskType
{
    Chat,
    Code,
    Summarise,
    Extract,
    Translate,
    Reasoning,
    Creative,
}

public enum Complexity
{
    Low,
    Medium,
    High,
}

/// <summary>What a detector found. Never carries the matched text, only where it is.</summary>
public enum FindingKind
{
    Email,
    Phone,
    PaymentCard,
    Iban,
    NationalId,
    IpAddress,
    CloudAccessKey,
    VcsToken,
    ApiKey,
    PrivateKey,
    Jwt,
    Password,
    ConfidentialityMarker,
}

/// <summary>A detector hit: its kind and its span (UTF-16 offsets) in the classified text.</summary>
public readonly record struct Finding(FindingKind Kind, int Start, int Length);

/// <summary>What the ONNX model predicts for a text.</summary>
public sealed record ModelPrediction(
    PrivacyLevel Privacy,
    float PrivacyConfidence,
    TaskType Task,
    float TaskConfidence,
    Complexity Complexity,
    float ComplexityConfidence);

/// <summary>
/// The classifier's verdict. <see cref="Privacy"/> is the stricter of the detectors' level and the
/// model's; when the model is unsure (or failed), the stricter level is taken.
/// </summary>
public sealed record Classification(
    PrivacyLevel Privacy,
    IReadOnlyList<Finding> Findings,
    PrivacyLevel DetectorPrivacy,
    ModelPrediction? Model,
    bool Unsure);

/// <summary>The ONNX model behind the classifier. Thread-safe.</summary>
public interface IPromptModel
{
    ModelPrediction Predict(string text);
}

/// <summary>Classifies a prompt in process, with no network. Thread-safe.</summary>
public interface IPrivacyClassifier
{
    Classification Classify(string text);

    /// <summary>
    /// Classifies <paramref name="text"/> (detectors and model) and also runs the detectors over
    /// <paramref name="detectorsOnly"/>: text that leaves with the prompt but is not conversation (tool calls and
    /// definitions, names, metadata), where the model, trained on prompts, would misjudge JSON schema words while a
    /// checksummed card or a marker means the same anywhere. Spans count from the start of <paramref name="text"/>,
    /// with <paramref name="detectorsOnly"/> after it and one newline between.
    /// </summary>
    Classification Classify(string text, string detectorsOnly);
}
