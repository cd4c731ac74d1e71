using InferenceMesh.Engine;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.ModelCache.Catalog;

namespace InferenceMesh.Gateway.Mesh;

/// <summary>The mesh's view of this gateway: the catalog's valid models and the engine's loaded-model load.</summary>
internal sealed class CatalogCapabilitySource(IModelCatalog catalog, IModelHost host) : ILocalCapabilitySource
{
    public IReadOnlyList<LocalModelFile> GetModels()
    {
        catalog.Refresh();
        return [.. catalog.Models.Select(m => new LocalModelFile(m.Id, m.Path, m.SizeBytes, m.LastWriteUtc, m.Quantization, m.TrainContextLength))];
    }

    public AdvertisedLoad GetLoad()
    {
        var loaded = host.GetLoadedStatus();
        return new AdvertisedLoad
        {
            ActiveSequences = loaded.Sum(s => s.ActiveSequences),
            QueuedSequences = loaded.Sum(s => s.QueuedSequences),
            Slots = loaded.Sum(s => s.Slots),
        };
    }
}
