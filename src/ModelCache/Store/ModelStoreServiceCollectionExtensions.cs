using InferenceMesh.ModelCache.Downloads;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.ModelCache.Store;

/// <summary>Wiring for <see cref="IModelStore"/> and <see cref="IModelDownloader"/>.</summary>
public static class ModelStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers singletons of <see cref="IModelStore"/> over <paramref name="directory"/> (created with its manifest
    /// when first resolved) and an <see cref="IModelDownloader"/> into it. Uses the registered TimeProvider if any.
    /// </summary>
    public static IServiceCollection AddModelStore(this IServiceCollection services, string directory, DownloadOptions? downloadOptions = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var options = downloadOptions ?? new DownloadOptions();
        options.Validate();
        services.TryAddSingleton<IModelStore>(sp => ModelStoreFactory.Open(
            directory, sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.TryAddSingleton(sp => ModelDownloaderFactory.Create(
            sp.GetRequiredService<IModelStore>(), options, null, sp.GetService<TimeProvider>(), sp.GetService<ILoggerFactory>()));
        return services;
    }
}
