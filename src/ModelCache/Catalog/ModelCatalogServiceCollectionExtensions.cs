using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.ModelCache.Catalog;

/// <summary>Wiring for <see cref="IModelCatalog"/>.</summary>
public static class ModelCatalogServiceCollectionExtensions
{
    /// <summary>Registers a singleton <see cref="IModelCatalog"/> over <paramref name="directory"/>; it scans when first resolved.</summary>
    public static IServiceCollection AddModelCatalog(this IServiceCollection services, string directory) =>
        services.AddModelCatalog(new ModelCatalogOptions { Directory = directory });

    /// <summary>Registers a singleton <see cref="IModelCatalog"/>; the options are validated now.</summary>
    public static IServiceCollection AddModelCatalog(this IServiceCollection services, ModelCatalogOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.TryAddSingleton<IModelCatalog>(sp => new ModelCatalog(
            options, sp.GetService<ILogger<ModelCatalog>>() ?? NullLogger<ModelCatalog>.Instance));
        return services;
    }
}

/// <summary>Creates an <see cref="IModelCatalog"/> without dependency injection (tools, benchmarks).</summary>
public static class ModelCatalogFactory
{
    /// <summary>Creates the catalog and scans the folder once.</summary>
    public static IModelCatalog Create(ModelCatalogOptions options, ILoggerFactory? loggerFactory = null) =>
        new ModelCatalog(options, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ModelCatalog>());
}
