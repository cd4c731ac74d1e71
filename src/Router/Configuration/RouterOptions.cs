namespace InferenceMesh.Router.Configuration;

/// <summary>How the router finds and watches its files. Immutable; validated by <see cref="Validate"/> at start.</summary>
public sealed record RouterOptions
{
    /// <summary>The gateway config file (<c>--config FILE</c>); null means no remote backends. The default value is null.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>The folder of policy files. The default value is "policies" (relative to the working folder).</summary>
    public string PoliciesDirectory { get; init; } = "policies";

    /// <summary>Top-level config keys owned by other components (e.g. the gateway's own sections); other unknown keys are errors. The default value is empty.</summary>
    public IReadOnlyList<string> ForeignConfigSections { get; init; } = [];

    /// <summary>Reload config and policy when their files change. The default value is true.</summary>
    public bool WatchForChanges { get; init; } = true;

    /// <summary>Quiet time after the last file event before reloading (editors write in bursts); zero reloads at once. The default value is 250 ms.</summary>
    public TimeSpan ReloadDebounce { get; init; } = RouterDefaults.ReloadDebounce;

    /// <summary>Returns null when valid, else a one-line message.</summary>
    public string? Validate()
    {
        if (ConfigPath is { Length: 0 })
        {
            return "The config path must not be empty.";
        }

        if (string.IsNullOrWhiteSpace(PoliciesDirectory))
        {
            return "The policies folder must be named.";
        }

        if (ReloadDebounce < TimeSpan.Zero || ReloadDebounce > TimeSpan.FromMinutes(1))
        {
            return $"The reload debounce must be from 0 to 1 minute (got {ReloadDebounce}).";
        }

        return null;
    }
}
