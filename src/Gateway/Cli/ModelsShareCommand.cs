using System.CommandLine;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>models share NAME [--gateway URL]</c>: asks the running gateway to seed a stored model over BitTorrent and prints
/// the magnet link as the last line (docs/torrents.md). Sharing needs a running gateway: it owns the seeding engine.
/// </summary>
internal static class ModelsShareCommand
{
    public static Command Create(ModelsCliEnvironment environment)
    {
        var name = new Argument<string>("name") { Description = "The stored model to share." };
        var gateway = ModelsTorrentClient.GatewayOption();
        var command = new Command("share", "Seed a stored model over BitTorrent from a running gateway; prints the magnet link.") { name, gateway };
        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var modelName = parse.GetRequiredValue(name);
            if (ModelName.Validate(modelName) is { } nameError)
            {
                await error.WriteLineAsync($"inference-mesh: {nameError}.");
                return ModelsCliExit.Usage;
            }

            if (!ModelsTorrentClient.TryGatewayUri(parse.GetRequiredValue(gateway), out var uri))
            {
                await error.WriteLineAsync("inference-mesh: --gateway must be an http(s) URL.");
                return ModelsCliExit.Usage;
            }

            return await ModelsTorrentClient.ShareAsync(uri, modelName, environment.HttpClient, parse.InvocationConfiguration.Output, error, ct);
        });
        return command;
    }
}
