using InferenceMesh.Router.Configuration;

namespace InferenceMesh.Router.Policies;

/// <summary>The outcome of a reload: applied, or refused with its errors (the last good snapshot stays).</summary>
public sealed record RoutingReloadResult(bool Applied, RoutingSnapshot Current, IReadOnlyList<ConfigError> Errors);

/// <summary>
/// The current config and policy, reloaded when their files change. A broken edit keeps the last
/// good snapshot and reports why. Thread-safe: <see cref="Current"/> is swapped atomically.
/// </summary>
public interface IRoutingConfigProvider
{
    RoutingSnapshot Current { get; }

    /// <summary>The errors of the latest reload attempt; empty when it succeeded (or none was tried).</summary>
    IReadOnlyList<ConfigError> LastErrors { get; }

    /// <summary>Reads the files again now.</summary>
    RoutingReloadResult Reload();

    /// <summary>Raised after every reload attempt, applied or not (on the thread that reloaded).</summary>
    event EventHandler<RoutingReloadResult>? Reloaded;
}
