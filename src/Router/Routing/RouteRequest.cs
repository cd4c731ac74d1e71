using InferenceMesh.Classifier;

namespace InferenceMesh.Router.Routing;

/// <summary>What the router needs to know about one request. Never holds the prompt.</summary>
public sealed record RouteRequest
{
    /// <summary>The requested model: "auto" (or empty) lets the router choose; otherwise a model name or alias.</summary>
    public string Model { get; init; } = Configuration.RouterDefaults.AutoModel;

    /// <summary>The classifier's verdict; null (classification failed or skipped) is treated as confidential.</summary>
    public Classification? Classification { get; init; }

    /// <summary>The level asked for with the X-InferenceMesh-Privacy header (parse it with <see cref="PrivacyHeader.TryParse"/>); null when absent.</summary>
    public PrivacyLevel? CallerPrivacy { get; init; }
}
