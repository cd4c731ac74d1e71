using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.ModelCache.Catalog;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>GET /v1/models and /v1/models/{id}: the valid models of the models folder.</summary>
internal static class ModelsApi
{
    public const string OwnedBy = "inference-mesh";

    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", List);
        app.MapGet("/v1/models/{id}", Get);
        return app;
    }

    public static JsonOk<ModelList> List([FromServices] IModelCatalog catalog)
    {
        catalog.Refresh();
        return new JsonOk<ModelList>(new ModelList([.. catalog.Models.Select(ToWire)]), OpenAiJsonContext.Default.ModelList);
    }

    public static Results<JsonOk<ModelInfo>, ApiError> Get(string id, [FromServices] IModelCatalog catalog) =>
        catalog.Find(id) is { } entry ? new JsonOk<ModelInfo>(ToWire(entry), OpenAiJsonContext.Default.ModelInfo) : ApiErrors.ModelNotFound();

    private static ModelInfo ToWire(CatalogEntry entry) => new(entry.Id, entry.LastWriteUtc.ToUnixTimeSeconds(), OwnedBy);
}
