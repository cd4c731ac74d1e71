using System.CommandLine;
using System.Globalization;
using InferenceMesh.ModelCache.Downloads;
using InferenceMesh.ModelCache.Store;
using Spectre.Console;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>models pull URL [--sha256 HEX] [--name NAME] [--mirror URL]… [--models DIR]</c>: a resumable download into the
/// store; see src/ModelCache/README.md ("Downloads"). <c>models pull MAGNET|FILE.torrent|URL.torrent [--gateway URL]</c>
/// asks the running gateway to fetch it over BitTorrent (docs/torrents.md) and exits 0 once it is verified and listed there.
/// </summary>
internal static class ModelsPullCommand
{
    public static Command Create(ModelsCliEnvironment environment)
    {
        var url = new Argument<string>("url") { Description = "The http(s) URL of the GGUF file, or a magnet link or .torrent file/URL (BitTorrent, through --gateway)." };
        var gateway = ModelsTorrentClient.GatewayOption();
        var sha256 = new Option<string?>("--sha256") { Description = "The expected SHA-256 (64 lowercase hex); nothing is registered unless it matches." };
        var name = new Option<string?>("--name") { Description = "The model name (default: the URL's file name without .gguf)." };
        var mirrors = new Option<string[]>("--mirror") { Description = "Another URL of the same file, tried in order after the first (repeatable).", AllowMultipleArgumentsPerToken = false };
        var models = ModelsCliEnvironment.ModelsOption();
        var command = new Command("pull", "Download a model (resumable, verified) into the store.") { url, sha256, name, mirrors, models, gateway };
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            if (!ModelsCliEnvironment.ModelsFolderIsNotAFile(parse, models))
            {
                return ModelsCliExit.Usage;
            }

            if (ModelsTorrentClient.IsTorrentSource(parse.GetRequiredValue(url)))
            {
                // The running gateway downloads into its own store; these would be ignored without a word.
                if (parse.GetResult(models) is { Implicit: false } || parse.GetResult(mirrors) is { Implicit: false })
                {
                    await error.WriteLineAsync("inference-mesh: --models and --mirror do not apply to a BitTorrent pull: the gateway at --gateway downloads it into its own models folder.");
                    return ModelsCliExit.Usage;
                }

                return await PullTorrentAsync(parse, url, sha256, name, gateway, environment, ct);
            }

            var sources = new List<Uri>();
            foreach (var text in new[] { parse.GetRequiredValue(url) }.Concat(parse.GetValue(mirrors) ?? []))
            {
                if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                {
                    await error.WriteLineAsync($"inference-mesh: '{ModelsProgress.Printable(text)}' is not an http or https URL.");
                    return ModelsCliExit.Usage;
                }

                sources.Add(uri);
            }

            Sha256Digest? expected = null;
            if (parse.GetValue(sha256) is { } hex)
            {
                if (!Sha256Digest.TryParse(hex, out var digest))
                {
                    await error.WriteLineAsync("inference-mesh: --sha256 must be exactly 64 lowercase hex characters.");
                    return ModelsCliExit.Usage;
                }

                expected = digest;
            }

            var modelName = parse.GetValue(name) ?? DefaultName(sources[0]);
            if (ModelName.Validate(modelName) is { } nameError)
            {
                await error.WriteLineAsync($"inference-mesh: {nameError}; choose one with --name.");
                return ModelsCliExit.Usage;
            }

            var store = environment.OpenStore(parse.GetRequiredValue(models));
            var downloader = environment.CreateDownloader(store);
            var result = await DownloadAsync(ModelsCliEnvironment.ProgressConsole(error), downloader,
                new PullRequest { Sources = sources, Name = modelName, ExpectedSha256 = expected }, ct);
            return await ReportAsync(result, output, error);
        });
        return command;
    }

    private static async Task<int> PullTorrentAsync(
        ParseResult parse, Argument<string> url, Option<string?> sha256, Option<string?> name, Option<string> gateway, ModelsCliEnvironment environment, CancellationToken ct)
    {
        var error = parse.InvocationConfiguration.Error;
        if (!ModelsTorrentClient.TryGatewayUri(parse.GetRequiredValue(gateway), out var gatewayUri))
        {
            await error.WriteLineAsync("inference-mesh: --gateway must be an http(s) URL.");
            return ModelsCliExit.Usage;
        }

        if (parse.GetValue(sha256) is { } hex && !Sha256Digest.IsValid(hex))
        {
            await error.WriteLineAsync("inference-mesh: --sha256 must be exactly 64 lowercase hex characters.");
            return ModelsCliExit.Usage;
        }

        if (parse.GetValue(name) is { } modelName && ModelName.Validate(modelName) is { } nameError)
        {
            await error.WriteLineAsync($"inference-mesh: {nameError}; choose one with --name.");
            return ModelsCliExit.Usage;
        }

        return await ModelsTorrentClient.PullAsync(gatewayUri, parse.GetRequiredValue(url), parse.GetValue(name), parse.GetValue(sha256),
            environment.HttpClient, ModelsCliEnvironment.ProgressConsole(error), parse.InvocationConfiguration.Output, error, ct);
    }

    /// <summary>Runs one download under a Spectre progress bar (size, speed, ETA).</summary>
    internal static Task<PullResult> DownloadAsync(IAnsiConsole console, IModelDownloader downloader, PullRequest request, CancellationToken ct) =>
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(ModelsProgress.Printable(request.Name)), autoStart: true);
                task.IsIndeterminate = true;
                var progress = new SyncProgress<DownloadProgress>(p =>
                {
                    if (p.BytesTotal is { } total)
                    {
                        task.IsIndeterminate = false;
                        task.MaxValue = Math.Max(1, total);
                    }

                    task.Value = p.BytesDone;
                });
                return await downloader.PullAsync(request, progress, ct);
            });

    internal static async Task<int> ReportAsync(PullResult result, TextWriter output, TextWriter error)
    {
        if (result.Succeeded && result.Model is { } model)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Pulled {model.Name}: sha256 {model.Digest}, {model.SizeBytes} bytes, {model.Metadata.Quantization ?? "?"} -> {model.Path}"));
            return ModelsCliExit.Ok;
        }

        await error.WriteLineAsync($"inference-mesh: pull failed: {ModelsProgress.Printable(result.Message ?? result.Error.ToString())}");
        return result.Error switch
        {
            DownloadError.Cancelled => ModelsCliExit.Cancelled,
            DownloadError.InvalidRequest => ModelsCliExit.Usage,
            _ => ModelsCliExit.Failed,
        };
    }

    /// <summary>The URL's last path segment without ".gguf" (decoded); the name is validated like any other.</summary>
    internal static string DefaultName(Uri url)
    {
        var last = Uri.UnescapeDataString(url.Segments.LastOrDefault() ?? string.Empty).TrimEnd('/');
        return last.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? last[..^5] : last;
    }
}
