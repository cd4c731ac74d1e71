using System.CommandLine;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>models rm NAME [--models DIR]</c>: removes a name; its blob is deleted when no other name uses it, and a loose
/// model's file is deleted (otherwise the next listing would import it again).
/// </summary>
internal static class ModelsRmCommand
{
    public static Command Create(ModelsCliEnvironment environment)
    {
        var name = new Argument<string>("name") { Description = "The model name." };
        var models = ModelsCliEnvironment.ModelsOption();
        var command = new Command("rm", "Remove a model from the store.") { name, models };
        command.SetAction(async (parse, ct) =>
        {
            if (!ModelsCliEnvironment.GivenModelsFolderExists(parse, models))
            {
                return ModelsCliExit.Usage;
            }

            var store = environment.OpenStore(parse.GetRequiredValue(models));
            var result = await store.RemoveAsync(parse.GetRequiredValue(name), ct);
            if (!result.Succeeded)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"inference-mesh: {ModelsProgress.Printable(result.Message ?? result.Error.ToString())}");
                return result.Error == StoreError.InvalidName ? ModelsCliExit.Usage : ModelsCliExit.Failed;
            }

            await parse.InvocationConfiguration.Output.WriteLineAsync($"Removed {ModelsProgress.Printable(result.Model!.Name)}.");
            return ModelsCliExit.Ok;
        });
        return command;
    }
}
