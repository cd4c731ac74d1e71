using InferenceMesh.ContextStore.Responses;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Wiring for the response store.</summary>
public static class ResponseStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IResponseStore"/>, its migrations (module "responses") and its expiry (an
    /// <see cref="IExpiringStore"/>, purged by the context store's retention service, which <c>AddConversationStore</c>
    /// registers). Invalid options throw <see cref="ArgumentException"/>.
    /// </summary>
    public static IServiceCollection AddResponseStore(this IServiceCollection services, ResponseStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        options ??= new ResponseStoreOptions();
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        foreach (var migration in ResponseMigrations.All)
        {
            services.AddSingleton(migration);
        }

        services.AddSingleton<ResponseStore>();
        services.AddSingleton<IResponseStore>(sp => sp.GetRequiredService<ResponseStore>());
        services.AddSingleton<IExpiringStore>(sp => sp.GetRequiredService<ResponseStore>());
        return services;
    }
}
