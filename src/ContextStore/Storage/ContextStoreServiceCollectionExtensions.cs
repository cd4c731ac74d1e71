using InferenceMesh.ContextStore.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Wiring for the context store.</summary>
public static class ContextStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers <paramref name="options"/> and a singleton <see cref="ContextDatabase"/>, opened (and migrated) when
    /// first resolved with every <see cref="ContextMigration"/> registered as a service. Modules register their
    /// migrations with <c>services.AddSingleton(new ContextMigration(...))</c> before the database is resolved.
    /// </summary>
    public static IServiceCollection AddContextStore(this IServiceCollection services, ContextStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.TryAddSingleton(options);
        services.TryAddSingleton(sp => ContextDatabase.Open(options, sp.GetServices<ContextMigration>()));
        return services;
    }
}
