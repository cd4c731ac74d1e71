using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Health;
using InferenceMesh.Router.Policies;
using InferenceMesh.Router.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Router;

/// <summary>Wiring of the router into a host.</summary>
public static class RouterServiceCollectionExtensions
{
    /// <summary>
    /// Loads config and policy now and registers <see cref="IRouter"/>, <see cref="IRoutingConfigProvider"/>,
    /// <see cref="IBackendHealth"/> and <see cref="IApiKeyResolver"/>. The host must register an
    /// <see cref="ILocalModelDirectory"/>. A bad config or policy throws <see cref="RoutingConfigException"/>
    /// (every error with file, line and reason) so start-up stops; call
    /// <see cref="RoutingSnapshotLoader.Load"/> first to report errors without an exception.
    /// </summary>
    public static IServiceCollection AddInferenceRouter(this IServiceCollection services, RouterOptions options, HealthOptions? health = null, TimeProvider? time = null)
    {
        if (options.Validate() is { } optionsError)
        {
            throw new ArgumentException(optionsError, nameof(options));
        }

        health ??= new HealthOptions();
        if (health.Validate() is { } healthError)
        {
            throw new ArgumentException(healthError, nameof(health));
        }

        var clock = time ?? TimeProvider.System;
        var initial = RoutingConfigProvider.LoadInitial(options, clock);
        if (!initial.IsValid)
        {
            throw new RoutingConfigException(initial.Errors);
        }

        services.TryAddSingleton(clock);
        services.AddSingleton(options);
        services.AddSingleton(health);
        services.AddSingleton<IRoutingConfigProvider>(sp => new RoutingConfigProvider(
            initial.Value!, options, sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<RoutingConfigProvider>>()));
        services.AddSingleton<IBackendHealth>(sp => new BackendHealthTracker(health, sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IApiKeyResolver>(_ => new ApiKeyResolver());
        services.TryAddSingleton<IPeerCandidateSource, NoPeerCandidates>();
        services.AddSingleton<IRouter, BackendRouter>();
        return services;
    }
}
