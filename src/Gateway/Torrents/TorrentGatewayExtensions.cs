using InferenceMesh.Gateway.Hosting;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.ModelCache.Torrents;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace InferenceMesh.Gateway.Torrents;

/// <summary>
/// BitTorrent distribution in the gateway: the store, the tracker, the engine (qBittorrent or aria2, started on first
/// use, or in the background at start when shares were saved or <c>--torrent-engine-start eager</c>) and
/// <see cref="ModelTorrents"/>. A missing engine only fails share and pull,
/// with one line.
/// </summary>
internal static class TorrentGatewayExtensions
{
    public static IServiceCollection AddModelTorrents(this IServiceCollection services, GatewayOptions options)
    {
        var torrentOptions = new TorrentOptions
        {
            Engine = options.TorrentEngine,
            Aria2Executable = options.Aria2Executable,
            QBittorrentExecutable = options.QBittorrentExecutable,
            EngineFolder = Path.Combine(options.ModelsDirectory, "torrents", "qbittorrent"),
            PieceLength = options.TorrentPieceKib * 1024,
            EnableDht = options.TorrentDht,
        };
        if (torrentOptions.Validate() is { } error)
        {
            throw new GatewayOptionsException(error);
        }

        services.AddModelStore(options.ModelsDirectory);
        services.AddSingleton(torrentOptions);
        services.AddSingleton(sp => new TorrentTracker(sp.GetRequiredService<TimeProvider>()) { Interval = torrentOptions.TrackerInterval });
        services.AddSingleton<ITorrentEngine>(sp => torrentOptions.Engine == TorrentEngines.Aria2
            ? new Aria2Engine(torrentOptions, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Aria2Engine>>())
            : new QBittorrentEngine(torrentOptions, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<QBittorrentEngine>>()));
        services.AddSingleton(sp => new ModelTorrents(
            sp.GetRequiredService<IModelStore>(),
            sp.GetRequiredService<ITorrentEngine>(),
            sp.GetRequiredService<TorrentTracker>(),
            torrentOptions,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ModelTorrents>>())
        {
            AnnounceUrl = () => AnnounceUrl(sp, options),
            MetainfoClient = MetainfoClient,
        });
        services.AddHostedService<TorrentHostedService>();
        return services;
    }

    // A magnet names its trackers: never a link-local one (a cloud metadata service) for the .torrent fetch.
    private static readonly HttpClient MetainfoClient = TorrentUrlFetcher.CreateClient(TimeSpan.FromSeconds(100));

    /// <summary><c>--torrent-announce</c>, else the gateway's first bound address + /announce.</summary>
    private static string? AnnounceUrl(IServiceProvider services, GatewayOptions options)
    {
        if (options.TorrentAnnounceUrl is { } configured)
        {
            return configured;
        }

        var first = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return first is null ? null : new Uri(new Uri(first), TorrentsApi.AnnouncePath).AbsoluteUri;
    }
}

/// <summary>
/// At start, in the background (neither the host's start nor <c>/health</c> waits for it): starts the engine when
/// <c>--torrent-engine-start eager</c> asks for it, then seeds the saved shares (which starts the engine if there are
/// any). A failure is logged once; share and pull try to start the engine again. Stops the engine with the gateway.
/// </summary>
internal sealed partial class TorrentHostedService(ModelTorrents torrents, ITorrentEngine engine, GatewayOptions options, ILogger<TorrentHostedService> logger)
    : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _startUp;

    /// <summary>The start's background work (the eager engine start, then the seeding of the saved shares); completed before the service started.</summary>
    internal Task StartedUp => _startUp ?? Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _startUp = Task.Run(() => StartUpAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task StartUpAsync(CancellationToken stopping)
    {
        try
        {
            if (options.TorrentEngineEagerStart)
            {
                try
                {
                    await engine.EnsureStartedAsync(stopping);
                }
                catch (TorrentEngineException e)
                {
                    Log.EngineStartFailed(logger, engine.Name, e.Message);
                    return; // the saved shares would only try (and log) the same start again
                }
            }

            var count = await torrents.ResumeSharesAsync(stopping);
            if (count > 0)
            {
                Log.Resumed(logger, count);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is TorrentEngineException or TorrentEngineRefusedException or IOException or UnauthorizedAccessException)
        {
            Log.ResumeFailed(logger, e.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A start still running (up to the engine's start timeout) is cut short rather than waited for.
        await _stopping.CancelAsync();
        if (_startUp is not null)
        {
            await _startUp.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        await torrents.DisposeAsync();
        await engine.DisposeAsync();
    }

    public void Dispose() => _stopping.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = 620, Level = LogLevel.Information, Message = "seeding {Count} shared models again")]
        public static partial void Resumed(ILogger logger, int count);

        [LoggerMessage(EventId = 621, Level = LogLevel.Warning, Message = "shared models are not seeded: {Reason}")]
        public static partial void ResumeFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 622, Level = LogLevel.Warning, Message = "the BitTorrent engine {Engine} did not start with the gateway: {Reason}; share and pull will try again")]
        public static partial void EngineStartFailed(ILogger logger, string engine, string reason);
    }
}
