using System.Security.Cryptography;
using System.Text;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;

namespace InferenceMesh.Mesh.Capabilities;

/// <summary>Builds this node's advert from the host's models (hashed through the cache) and load, plus price and jurisdiction from config.</summary>
public sealed class LocalAdvertBuilder(ILocalCapabilitySource source, ModelDigestCache digests, MeshOptions options, NodeIdentity identity, TimeProvider time)
{
    public CapabilityAdvert Build()
    {
        var models = source.GetModels()
            .OrderBy(m => m.Name, StringComparer.Ordinal)
            .Select(m => new AdvertisedModel
            {
                Name = m.Name,
                Sha256 = digests.GetDigest(m),
                SizeBytes = m.SizeBytes,
                Quantization = m.Quantization,
                ContextLength = m.ContextLength,
            })
            .ToList();
        return new CapabilityAdvert
        {
            NodeId = identity.Id.ToString(),
            Models = models,
            ModelsDigest = Summary(models),
            Load = source.GetLoad(),
            PricePerMillionTokens = options.PricePerMillionTokens,
            Jurisdiction = options.Jurisdiction,
            GeneratedAt = time.GetUtcNow(),
        };
    }

    /// <summary>First 16 hex characters of SHA-256 over "name sha256\n" lines: the serf tag that changes when the models do.</summary>
    public static string Summary(IEnumerable<AdvertisedModel> models)
    {
        var text = string.Concat(models.Select(m => $"{m.Name} {m.Sha256}\n"));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }
}
