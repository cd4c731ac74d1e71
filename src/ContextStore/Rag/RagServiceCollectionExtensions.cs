using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Files;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Wiring for files, vector stores and retrieval (module "rag" of the context store).</summary>
public static class RagServiceCollectionExtensions
{
    /// <summary>
    /// Registers the "rag" migrations and the RAG services over the context database, with the index that
    /// <see cref="RagOptions.Postgres"/> selects (sqlite-vec + FTS5 when null, PostgreSQL + pgvector when set). The caller registers an
    /// <see cref="Rag.Embedding.IRagEmbedderSource"/> (the gateway: the local engine) and adds sqlite-vec
    /// (<see cref="SqliteVec.LibraryPath"/>) to <see cref="ContextStoreOptions.Extensions"/>.
    /// </summary>
    public static IServiceCollection AddRag(this IServiceCollection services, RagOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        foreach (var migration in RagMigrations.All)
        {
            services.AddSingleton(migration);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(options);
        services.TryAddSingleton<RagFileStore>();
        services.TryAddSingleton<VectorStoreRepository>();
        if (options.Postgres is { } postgres)
        {
            // Connects at first use; an invalid connection string throws ArgumentException (one line) when resolved.
            services.TryAddSingleton<IRagIndex>(sp => new PgVectorRagIndex(postgres, sp.GetRequiredService<TimeProvider>(),
                sp.GetService<ILogger<PgVectorRagIndex>>() ?? NullLogger<PgVectorRagIndex>.Instance));
        }
        else
        {
            services.TryAddSingleton<IRagIndex>(sp => new SqliteRagIndex(sp.GetRequiredService<ContextDatabase>(), SqliteVec.LibraryPath));
        }

        services.TryAddSingleton<RagService>();
        return services;
    }
}
