using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using InferenceMesh.ModelCache.Store;
using Spectre.Console;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>models list [--models DIR] [--json]</c>: imports new or changed loose *.gguf files (hashing them once), then
/// prints every name of the manifest: models, then LoRA adapters (kind "adapter", with their base).
/// </summary>
internal static class ModelsListCommand
{
    public static Command Create(ModelsCliEnvironment environment)
    {
        var models = ModelsCliEnvironment.ModelsOption();
        var json = new Option<bool>("--json") { Description = "Print a JSON array (name, path, sha256, size, quantization, …)." };
        var command = new Command("list", "List the models of the store and the loose *.gguf files.") { models, json };
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            if (!ModelsCliEnvironment.GivenModelsFolderExists(parse, models))
            {
                return ModelsCliExit.Usage;
            }

            var store = environment.OpenStore(parse.GetRequiredValue(models));
            await ModelsProgress.HashAsync(ModelsCliEnvironment.ProgressConsole(error), "Hashing new model files",
                p => store.SyncLooseFilesAsync(p, ct));
            var items = store.List().Select(ToItem).Concat(store.ListAdapters().Select(ToItem)).ToList();
            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(items, ModelsCliJsonContext.Default.ListModelsListItem));
                return ModelsCliExit.Ok;
            }

            if (items.Count == 0)
            {
                await output.WriteLineAsync($"No models in {store.Layout.Root}.");
                return ModelsCliExit.Ok;
            }

            foreach (var item in items)
            {
                var description = item.Base is { } baseName ? $"adapter for {baseName}" : item.Quantization ?? "?";
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{ModelsProgress.Printable(item.Name)}\t{ModelsProgress.Printable(description)}\t{item.Size} bytes\tsha256:{item.Sha256[..12]}\t{item.Status}\t{item.Path}"));
            }

            return ModelsCliExit.Ok;
        });
        return command;
    }

    internal static ModelsListItem ToItem(StoredAdapter adapter) => new()
    {
        Name = adapter.Name,
        Path = adapter.Path,
        Sha256 = adapter.Digest.Hex,
        Size = adapter.SizeBytes,
        Architecture = adapter.Architecture,
        Kind = "adapter",
        Status = "ok",
        Base = adapter.BaseName,
        BaseSha256 = adapter.BaseDigest.Hex,
        Scale = adapter.DefaultScale,
        Rank = adapter.Rank,
    };

    internal static ModelsListItem ToItem(StoredModel model) => new()
    {
        Name = model.Name,
        Path = model.Path,
        Sha256 = model.Digest.Hex,
        Size = model.SizeBytes,
        Quantization = model.Metadata.Quantization,
        Architecture = model.Metadata.Architecture,
        Parameters = model.Metadata.ParameterCount,
        ContextLength = model.Metadata.ContextLength,
        License = model.Metadata.License,
        ChatTemplate = model.Metadata.HasChatTemplate,
        Kind = model.LooseFileName is null ? "blob" : "loose",
        Status = model.Status == StoredModelStatus.Ok ? "ok" : "quarantined",
        Sources = model.Sources,
        SourceSha256 = model.Lineage?.SourceDigest?.Hex,
        QuantizationType = model.Lineage?.QuantizationType,
    };
}

/// <summary>Spectre progress bars for hashing and downloading, on the progress console.</summary>
internal static class ModelsProgress
{
    public static Task<T> HashAsync<T>(IAnsiConsole console, string title, Func<IProgress<HashProgress>, Task<T>> work) =>
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                var progress = new SyncProgress<HashProgress>(p =>
                {
                    if (!tasks.TryGetValue(p.Label, out var task))
                    {
                        task = tasks[p.Label] = context.AddTask(Markup.Escape($"{title}: {Printable(p.Label)}"), maxValue: Math.Max(1, p.BytesTotal));
                    }

                    task.Value = p.BytesDone;
                });
                return await work(progress);
            });

    /// <summary>Names and URLs come from files and users: no control characters reach the terminal.</summary>
    public static string Printable(string text) =>
        string.Concat(text.Select(c => char.IsControl(c) || char.GetUnicodeCategory(c) == UnicodeCategory.Format ? '?' : c));
}

/// <summary>Reports on the calling thread, in order.</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
