using InferenceMesh.Engine;
using InferenceMesh.ModelCache.Catalog;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.Gateway.Tests.Common;

/// <summary>The real engine's model behind a test gateway, for what the HTTP API does not expose (its token ids).</summary>
internal static class ServedModel
{
    public static async Task<ILoadedModel> LoadAsync(TestEnvironment environment, string id = TestEnvironment.Stories)
    {
        var entry = environment.App.Services.GetRequiredService<IModelCatalog>().Find(id) ?? throw new InvalidOperationException($"No model {id}.");
        var loaded = await environment.App.Services.GetRequiredService<IModelHost>().GetOrLoadAsync(new ModelSource(entry.Id, entry.Path, entry.SizeBytes));
        Assert.True(loaded.Succeeded, loaded.Failure?.Message);
        return loaded.Value!;
    }

    /// <summary>The ids the engine makes of a completion prompt (BOS first, special-token text parsed), as a JSON array.</summary>
    public static async Task<int[]> PromptTokensAsync(TestEnvironment environment, string text) =>
        (await LoadAsync(environment)).Tokenize(text, addSpecial: true, parseSpecial: true);
}
