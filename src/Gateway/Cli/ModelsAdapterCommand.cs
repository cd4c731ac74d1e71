using System.CommandLine;
using System.Globalization;
using InferenceMesh.Engine;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>models adapter add PATH --base NAME [--name N] [--scale S]</c> and <c>models adapter rm NAME</c>: LoRA adapters
/// registered against a base model of the store (see docs/lora.md). A running gateway offers a new adapter on the next
/// request and stops offering a removed one; no restart.
/// </summary>
internal static class ModelsAdapterCommand
{
    public static Command Create(ModelsCliEnvironment environment)
    {
        return new Command("adapter", "Manage LoRA adapters: add (against a base model), rm.")
        {
            CreateAdd(environment),
            CreateRemove(environment),
        };
    }

    private static Command CreateAdd(ModelsCliEnvironment environment)
    {
        var path = new Argument<string>("path") { Description = "The adapter GGUF file (general.type = adapter, adapter.type = lora)." };
        var baseName = new Option<string>("--base") { Description = "The base model's name in the store.", Required = true };
        var name = new Option<string?>("--name") { Description = "The adapter's name (default: the file name without .gguf)." };
        var scale = new Option<float>("--scale")
        {
            Description = $"The scale used when a request names the adapter without one, e.g. the model alias BASE+NAME ({AdapterLimits.MinScale} to {AdapterLimits.MaxScale}; default 1).",
            DefaultValueFactory = _ => 1f,
        };
        var models = ModelsCliEnvironment.ModelsOption();
        var command = new Command("add", "Copy a LoRA adapter into the store, checked against its base model.") { path, baseName, name, scale, models };
        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var file = parse.GetRequiredValue(path);
            var scaleValue = parse.GetValue(scale);
            if (!float.IsFinite(scaleValue) || scaleValue < AdapterLimits.MinScale || scaleValue > AdapterLimits.MaxScale)
            {
                await error.WriteLineAsync($"inference-mesh: --scale must be from {AdapterLimits.MinScale} to {AdapterLimits.MaxScale}.");
                return ModelsCliExit.Usage;
            }

            if (!File.Exists(file))
            {
                await error.WriteLineAsync($"inference-mesh: no file '{ModelsProgress.Printable(file)}'.");
                return ModelsCliExit.Failed;
            }

            if (!ModelsCliEnvironment.GivenModelsFolderExists(parse, models))
            {
                return ModelsCliExit.Usage;
            }

            var adapterName = parse.GetValue(name) ?? Path.GetFileNameWithoutExtension(file);
            var store = environment.OpenStore(parse.GetRequiredValue(models));
            var result = await store.AddAdapterAsync(file, new AdapterRegistration
            {
                Name = adapterName,
                BaseName = parse.GetRequiredValue(baseName),
                DefaultScale = scaleValue,
            }, ct);
            if (!result.Succeeded)
            {
                await error.WriteLineAsync($"inference-mesh: {ModelsProgress.Printable(result.Message ?? result.Error.ToString())}");
                return result.Error == StoreError.InvalidName ? ModelsCliExit.Usage : ModelsCliExit.Failed;
            }

            var adapter = result.Adapter!;
            await parse.InvocationConfiguration.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Added adapter {ModelsProgress.Printable(adapter.Name)} for {ModelsProgress.Printable(adapter.BaseName)} (rank {adapter.Rank}, {adapter.TensorPairs} weights, sha256:{adapter.Digest.Hex[..12]}); request it as model \"{ModelsProgress.Printable(adapter.BaseName)}+{ModelsProgress.Printable(adapter.Name)}\" or with \"lora\": [{{\"name\": \"{ModelsProgress.Printable(adapter.Name)}\", \"scale\": {adapter.DefaultScale}}}]."));
            return ModelsCliExit.Ok;
        });
        return command;
    }

    private static Command CreateRemove(ModelsCliEnvironment environment)
    {
        var name = new Argument<string>("name") { Description = "The adapter's name." };
        var models = ModelsCliEnvironment.ModelsOption();
        var command = new Command("rm", "Remove a LoRA adapter from the store (requests using it now finish first).") { name, models };
        command.SetAction(async (parse, ct) =>
        {
            if (!ModelsCliEnvironment.GivenModelsFolderExists(parse, models))
            {
                return ModelsCliExit.Usage;
            }

            var store = environment.OpenStore(parse.GetRequiredValue(models));
            var result = await store.RemoveAdapterAsync(parse.GetRequiredValue(name), ct);
            if (!result.Succeeded)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"inference-mesh: {ModelsProgress.Printable(result.Message ?? result.Error.ToString())}");
                return result.Error == StoreError.InvalidName ? ModelsCliExit.Usage : ModelsCliExit.Failed;
            }

            await parse.InvocationConfiguration.Output.WriteLineAsync($"Removed adapter {ModelsProgress.Printable(result.Adapter!.Name)}.");
            return ModelsCliExit.Ok;
        });
        return command;
    }
}
