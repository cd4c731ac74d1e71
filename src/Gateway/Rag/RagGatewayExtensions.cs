using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Embedding;
using InferenceMesh.ContextStore.Rag.Ingestion;
using InferenceMesh.Gateway.Context;
using InferenceMesh.Gateway.Hosting;

namespace InferenceMesh.Gateway.Rag;

/// <summary>Wiring of files, vector stores, background ingestion and retrieval into the gateway.</summary>
internal static class RagGatewayExtensions
{
    public static IServiceCollection AddGatewayRag(this IServiceCollection services, GatewayOptions options)
    {
        var (postgres, error) = RagIndexSelection.Resolve(options.RagIndex, options.RagPostgresVariable, options.RagPostgresSchema);
        if (error is not null)
        {
            throw new ArgumentException(error, nameof(options)); // GatewayOptions.Validate reported it already
        }

        services.AddRag(new RagOptions { EmbeddingModel = options.EmbeddingModel, MaxFileBytes = options.MaxFileBytes, Postgres = postgres });
        services.AddSingleton<IRagEmbedderSource, EngineRagEmbedderSource>();
        services.AddSingleton<RagIngestionWorker>();
        services.AddSingleton<IRagIngestionQueue>(sp => sp.GetRequiredService<RagIngestionWorker>());
        services.AddHostedService(sp => sp.GetRequiredService<RagIngestionWorker>());
        services.AddSingleton<IChatContextStage, RetrievalContextStage>();
        return services;
    }

    public static IEndpointRouteBuilder MapRagApis(this IEndpointRouteBuilder app)
    {
        app.MapFilesApi();
        app.MapVectorStoresApi();
        return app;
    }
}
