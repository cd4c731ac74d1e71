using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Wiring for the conversation store (call after or before <c>AddContextStore</c>; the database is opened at host start).</summary>
public static class ConversationServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IConversationStore"/>, its migrations (module "conversations") and the hosted service that
    /// opens the database at start and purges expired history. Invalid options throw <see cref="ArgumentException"/>.
    /// </summary>
    public static IServiceCollection AddConversationStore(this IServiceCollection services, ConversationStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        foreach (var migration in ConversationMigrations.All)
        {
            services.AddSingleton(migration);
        }

        services.AddSingleton<IConversationStore, ConversationStore>();
        services.AddHostedService<ContextRetention>(); // also purges the modules that registered an IExpiringStore
        return services;
    }
}
