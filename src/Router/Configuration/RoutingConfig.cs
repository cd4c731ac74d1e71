namespace InferenceMesh.Router.Configuration;

/// <summary>The router's part of the gateway config file (<c>--config FILE</c>). Immutable.</summary>
public sealed record RoutingConfig
{
    /// <summary>The file this came from; null when no config file was given.</summary>
    public string? SourceFile { get; init; }

    /// <summary>
    /// The policy: a name looked up as &lt;policies folder&gt;/&lt;name&gt;.yaml, or a path to a .yaml file
    /// (relative to the config file). The default value is "default" (built in when the file is missing).
    /// </summary>
    public string Policy { get; init; } = RouterDefaults.PolicyName;

    /// <summary>Line of the <c>policy</c> key, for messages; 0 when not set in a file.</summary>
    public int PolicyLine { get; init; }

    /// <summary>The local backend: implicit, or the <c>type: local</c> entry that overrides its metadata.</summary>
    public BackendConfig Local { get; init; } = BackendConfig.DefaultLocal();

    /// <summary>The remote backends in file order. The default value is empty (local only).</summary>
    public IReadOnlyList<BackendConfig> Remotes { get; init; } = [];

    /// <summary>Local first, then the remotes in file order.</summary>
    public IEnumerable<BackendConfig> AllBackends => Remotes.Prepend(Local);
}
