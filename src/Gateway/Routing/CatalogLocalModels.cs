using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Gateway.Routing;

/// <summary>
/// The router's view of the local models: the valid models of the models folder (read live from the
/// catalog, so models added while running count). The default for <c>model: "auto"</c> is the first model
/// with a chat template, else the first model. Thread-safe.
/// </summary>
internal sealed class CatalogLocalModels(IModelCatalog catalog) : ILocalModelDirectory
{
    private readonly Lora.LoraRequests _aliases = new(catalog);

    public IReadOnlyList<string> Models => [.. catalog.Models.Select(m => m.Id)];

    public string? DefaultModel
    {
        get
        {
            var models = catalog.Models;
            return (models.FirstOrDefault(m => m.HasChatTemplate) ?? models.FirstOrDefault())?.Id;
        }
    }

    /// <summary>A local model, or an adapter alias BASE+ADAPTER of one (only this machine has its adapters).</summary>
    public bool CanServe(string model) => catalog.Find(model) is not null || _aliases.IsAlias(model);
}
