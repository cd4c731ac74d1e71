using System.Net.Http.Json;
using System.Text.Json;
using InferenceMesh.Gateway.Torrents;
using Spectre.Console;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// What <c>models share</c> and <c>models pull MAGNET|FILE.torrent</c> send to a running gateway (its BitTorrent
/// endpoints, docs/torrents.md): the gateway owns the engine and the store, the CLI only asks and shows progress.
/// </summary>
internal static class ModelsTorrentClient
{
    public const string DefaultGateway = "http://127.0.0.1:8080";

    /// <summary><c>--gateway URL</c>: the gateway that seeds or fetches.</summary>
    public static System.CommandLine.Option<string> GatewayOption() => new("--gateway")
    {
        Description = "The running gateway that seeds or fetches over BitTorrent (default: " + DefaultGateway + ").",
        DefaultValueFactory = _ => DefaultGateway,
    };

    public static bool TryGatewayUri(string text, out Uri uri) =>
        Uri.TryCreate(text, UriKind.Absolute, out uri!) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>A source that goes to BitTorrent: a magnet link, or a .torrent file or URL.</summary>
    public static bool IsTorrentSource(string source) =>
        source.StartsWith("magnet:", StringComparison.Ordinal) || source.EndsWith(".torrent", StringComparison.OrdinalIgnoreCase);

    public static HttpClient CreateClient(Uri gateway, HttpClient? shared) =>
        shared ?? new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromMinutes(5) };

    public static async Task<int> ShareAsync(Uri gateway, string name, HttpClient? shared, TextWriter output, TextWriter error, CancellationToken ct)
    {
        using var owned = shared is null ? CreateClient(gateway, null) : null;
        var http = owned ?? shared!;
        try
        {
            using var response = await http.PostAsJsonAsync(new Uri(gateway, "/v1/models/share"), new ShareRequest(name), TorrentsJsonContext.Default.ShareRequest, ct);
            if (!response.IsSuccessStatusCode)
            {
                await error.WriteLineAsync($"inference-mesh: share failed: {await ErrorMessageAsync(response, ct)}");
                return ModelsCliExit.Failed;
            }

            var shareResult = await response.Content.ReadFromJsonAsync(TorrentsJsonContext.Default.ShareResponse, ct);
            if (shareResult is null)
            {
                await error.WriteLineAsync("inference-mesh: share failed: the gateway sent an empty answer");
                return ModelsCliExit.Failed;
            }

            await output.WriteLineAsync($"Sharing {shareResult.Name}: sha256 {shareResult.Sha256}, {shareResult.Size} bytes, infohash {shareResult.Infohash}");
            await output.WriteLineAsync(shareResult.Magnet); // the magnet is always the last line
            return ModelsCliExit.Ok;
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync($"inference-mesh: no gateway answered at {gateway} ({e.Message}); start it or pass --gateway URL");
            return ModelsCliExit.Failed;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // Another server at that address (an HTML page, other JSON): a stack trace before.
            await error.WriteLineAsync(NotAGateway(gateway, e));
            return ModelsCliExit.Failed;
        }
    }

    public static async Task<int> PullAsync(
        Uri gateway, string source, string? name, string? sha256, HttpClient? shared, IAnsiConsole console, TextWriter output, TextWriter error, CancellationToken ct)
    {
        using var owned = shared is null ? CreateClient(gateway, null) : null;
        var http = owned ?? shared!;
        var wireSource = source;
        if (!source.StartsWith("magnet:", StringComparison.Ordinal) && !ModelsTorrentClient.TryGatewayUri(source, out _))
        {
            var file = new FileInfo(source);
            if (!file.Exists || file.Length > ModelCache.Torrents.TorrentMetainfo.MaxTorrentBytes)
            {
                await error.WriteLineAsync($"inference-mesh: '{ModelsProgress.Printable(source)}' is not a readable .torrent file (or is too large).");
                return ModelsCliExit.Usage;
            }

            wireSource = Convert.ToBase64String(await File.ReadAllBytesAsync(file.FullName, ct));
        }

        try
        {
            using var response = await http.PostAsJsonAsync(new Uri(gateway, "/v1/models/pull"), new PullRequestBody(wireSource, name, sha256), TorrentsJsonContext.Default.PullRequestBody, ct);
            if (!response.IsSuccessStatusCode)
            {
                await error.WriteLineAsync($"inference-mesh: pull failed: {await ErrorMessageAsync(response, ct)}");
                return (int)response.StatusCode == 400 ? ModelsCliExit.Usage : ModelsCliExit.Failed;
            }

            var job = await response.Content.ReadFromJsonAsync(TorrentsJsonContext.Default.PullJobResponse, ct)
                ?? throw new HttpRequestException("the gateway sent an empty answer");
            job = await FollowAsync(http, gateway, job, console, ct);
            if (job.State != "done" || job.Name is null)
            {
                await error.WriteLineAsync($"inference-mesh: pull failed: {ModelsProgress.Printable(job.Error?.Message ?? job.State)}");
                return ModelsCliExit.Failed;
            }

            if (!await ListedAsync(http, gateway, job.Name, ct))
            {
                await error.WriteLineAsync($"inference-mesh: pull failed: the gateway does not list '{ModelsProgress.Printable(job.Name)}' after the pull");
                return ModelsCliExit.Failed;
            }

            await output.WriteLineAsync($"Pulled {job.Name}: sha256 {job.Sha256}, {job.BytesTotal} bytes, over BitTorrent (torrent {job.Infohash})");
            return ModelsCliExit.Ok;
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync($"inference-mesh: no gateway answered at {gateway} ({e.Message}); start it or pass --gateway URL");
            return ModelsCliExit.Failed;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // Another server at that address (an HTML page, other JSON): a stack trace before.
            await error.WriteLineAsync(NotAGateway(gateway, e));
            return ModelsCliExit.Failed;
        }
    }

    /// <summary>Polls the job under a progress bar (size, speed, ETA) until it is done or failed.</summary>
    private static Task<PullJobResponse> FollowAsync(HttpClient http, Uri gateway, PullJobResponse job, IAnsiConsole console, CancellationToken ct) =>
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(ModelsProgress.Printable(job.Name ?? job.Infohash ?? job.Id)), autoStart: true);
                task.IsIndeterminate = true;
                var url = new Uri(gateway, "/v1/models/pulls/" + Uri.EscapeDataString(job.Id));
                while (job.State is not ("done" or "failed"))
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
                    job = await http.GetFromJsonAsync(url, TorrentsJsonContext.Default.PullJobResponse, ct)
                        ?? throw new HttpRequestException("the gateway sent an empty answer");
                    if (job.BytesTotal is { } total)
                    {
                        task.IsIndeterminate = false;
                        task.MaxValue = Math.Max(1, total);
                        task.Description = Markup.Escape(ModelsProgress.Printable(job.Name ?? job.Id));
                    }

                    task.Value = job.BytesDone;
                }

                return job;
            });

    private static async Task<bool> ListedAsync(HttpClient http, Uri gateway, string name, CancellationToken ct)
    {
        using var document = JsonDocument.Parse(await http.GetStringAsync(new Uri(gateway, "/v1/models"), ct));
        return document.RootElement.GetProperty("data").EnumerateArray().Any(m => m.GetProperty("id").GetString() == name);
    }

    private static string NotAGateway(Uri gateway, Exception e) =>
        $"inference-mesh: {gateway} did not answer as an inference-mesh gateway ({ModelsProgress.Printable(e.Message.Split('\n')[0])}); check --gateway URL";

    private static async Task<string> ErrorMessageAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.TryGetProperty("error", out var e) && e.TryGetProperty("message", out var m))
            {
                return ModelsProgress.Printable(m.GetString() ?? text);
            }
        }
        catch (JsonException)
        {
        }

        return $"HTTP {(int)response.StatusCode}";
    }
}
