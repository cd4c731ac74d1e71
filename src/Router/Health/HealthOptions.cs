using InferenceMesh.Router.Configuration;

namespace InferenceMesh.Router.Health;

/// <summary>The rolling window of <see cref="IBackendHealth"/>. Immutable.</summary>
public sealed record HealthOptions
{
    /// <summary>How far back outcomes count. The default value is 60 seconds.</summary>
    public TimeSpan Window { get; init; } = RouterDefaults.HealthWindow;

    /// <summary>Most outcomes kept per backend (older ones drop first). The default value is 200.</summary>
    public int MaxSamples { get; init; } = RouterDefaults.HealthMaxSamples;

    /// <summary>Returns null when valid, else a one-line message.</summary>
    public string? Validate()
    {
        if (Window <= TimeSpan.Zero)
        {
            return $"The health window must be positive (got {Window}).";
        }

        if (MaxSamples < 1)
        {
            return $"The health window must keep at least 1 sample (got {MaxSamples}).";
        }

        return null;
    }
}
