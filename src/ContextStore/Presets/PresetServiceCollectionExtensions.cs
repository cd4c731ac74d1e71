using InferenceMesh.ContextStore.Presets;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Wiring for the preset store.</summary>
public static class PresetServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IPresetStore"/> and its migrations (module "presets").</summary>
    public static IServiceCollection AddPresetStore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        foreach (var migration in PresetMigrations.All)
        {
            services.AddSingleton(migration);
        }

        services.AddSingleton<IPresetStore, PresetStore>();
        return services;
    }
}
