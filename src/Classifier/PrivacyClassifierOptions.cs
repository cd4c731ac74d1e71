using System.ComponentModel.DataAnnotations;

namespace InferenceMesh.Classifier;

/// <summary>How the classifier combines its detectors with the prompt model. Immutable; validated at registration.</summary>
public sealed record PrivacyClassifierOptions
{
    /// <summary>
    /// The model is unsure when its privacy confidence is below this value (or not a number); the classifier then
    /// takes one level stricter than the model said, at least <see cref="PrivacyLevel.Internal"/>, and sets
    /// <see cref="Classification.Unsure"/>. From 0 (always trust the model) to 1 (never trust it).
    /// The default value is 0.6.
    /// </summary>
    [Range(0.0, 1.0)]
    public float UnsureBelowConfidence { get; init; } = PrivacyClassifierConstants.DefaultUnsureBelowConfidence;

    /// <summary>Throws <see cref="ValidationException"/> naming the first invalid property.</summary>
    public void Validate() => Validator.ValidateObject(this, new ValidationContext(this), validateAllProperties: true);
}

/// <summary>The defaults and fixed levels of the classifier, in one place.</summary>
internal static class PrivacyClassifierConstants
{
    public const float DefaultUnsureBelowConfidence = 0.6f;

    /// <summary>
    /// The level when the model throws, returns nonsense or is not there: private until proven otherwise, so the
    /// request stays on this machine. Not an option: no deployment should be able to fail open.
    /// </summary>
    public const PrivacyLevel ModelFailureLevel = PrivacyLevel.Confidential;

    /// <summary>The least an unsure model's answer is raised to.</summary>
    public const PrivacyLevel UnsureFloor = PrivacyLevel.Internal;
}
