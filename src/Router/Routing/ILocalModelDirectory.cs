namespace InferenceMesh.Router.Routing;

/// <summary>
/// The local models the gateway can serve, supplied by the gateway (the router does not depend on
/// the model cache or the engine). Thread-safe; may change while running.
/// </summary>
public interface ILocalModelDirectory
{
    /// <summary>Names of the local models, as clients would request them.</summary>
    IReadOnlyList<string> Models { get; }

    /// <summary>The model used for <c>model: "auto"</c>; null when there is no local model.</summary>
    string? DefaultModel { get; }

    /// <summary>Whether a request for <paramref name="model"/> can be served locally.</summary>
    bool CanServe(string model);
}

/// <summary>A fixed list of local models (tests, config check, or a gateway that rebuilds it on change).</summary>
public sealed class StaticLocalModelDirectory : ILocalModelDirectory
{
    private readonly HashSet<string> _names;

    public StaticLocalModelDirectory(IEnumerable<string> models, string? defaultModel = null)
    {
        Models = [.. models];
        _names = new HashSet<string>(Models, StringComparer.OrdinalIgnoreCase);
        DefaultModel = defaultModel ?? (Models.Count > 0 ? Models[0] : null);
        if (DefaultModel is not null && !_names.Contains(DefaultModel))
        {
            throw new ArgumentException($"The default model '{DefaultModel}' is not in the list.", nameof(defaultModel));
        }
    }

    /// <summary>No local models: everything that must stay local fails closed.</summary>
    public static StaticLocalModelDirectory Empty { get; } = new([]);

    public IReadOnlyList<string> Models { get; }

    public string? DefaultModel { get; }

    public bool CanServe(string model) => _names.Contains(model);
}
