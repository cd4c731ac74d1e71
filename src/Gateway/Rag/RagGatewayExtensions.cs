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
        services.AddRag(new RagOptions { EmbeddingModel = options.EmbeddingModel, MaxFileBytes = options.MaxFileBytes });
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
