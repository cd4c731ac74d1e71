using InferenceMesh.ContextStore.Responses;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Wiring for the response store.</summary>
public static class ResponseStoreServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IResponseStore"/> and its migrations (module "responses") in the context database.</summary>
    public static IServiceCollection AddResponseStore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        foreach (var migration in ResponseMigrations.All)
        {
            services.AddSingleton(migration);
        }

        services.AddSingleton<IResponseStore, ResponseStore>();
        return services;
    }
}
