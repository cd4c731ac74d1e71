using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Lora;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.ModelCache.Catalog;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>
/// GET /v1/models and /v1/models/{id}: the valid models of the models folder, then one entry per offered LoRA adapter
/// under its alias <c>BASE+ADAPTER</c> (docs/lora.md).
/// </summary>
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
        var models = catalog.Models;
        var aliases = catalog.Adapters
            .Select(a => (Adapter: a, Base: models.FirstOrDefault(m => m.Id == a.BaseModel)))
            .Where(x => x.Base is not null)
            .Select(x => AliasToWire(x.Base!, x.Adapter));
        return new JsonOk<ModelList>(new ModelList([.. models.Select(ToWire), .. aliases]), OpenAiJsonContext.Default.ModelList);
    }

    public static Results<JsonOk<ModelInfo>, ApiError> Get(string id, [FromServices] IModelCatalog catalog)
    {
        if (catalog.Find(id) is { } entry)
        {
            return new JsonOk<ModelInfo>(ToWire(entry), OpenAiJsonContext.Default.ModelInfo);
        }

        if (new LoraRequests(catalog).FindAlias(id) is var (baseModel, adapter))
        {
            return new JsonOk<ModelInfo>(AliasToWire(baseModel, adapter), OpenAiJsonContext.Default.ModelInfo);
        }

        return ApiErrors.ModelNotFound();
    }

    private static ModelInfo AliasToWire(CatalogEntry baseModel, AdapterEntry adapter) =>
        new($"{baseModel.Id}+{adapter.Name}", baseModel.LastWriteUtc.ToUnixTimeSeconds(), OwnedBy);

    private static ModelInfo ToWire(CatalogEntry entry) => new(entry.Id, entry.LastWriteUtc.ToUnixTimeSeconds(), OwnedBy);
}
