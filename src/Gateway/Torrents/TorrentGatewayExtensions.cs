using InferenceMesh.Gateway.Hosting;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.ModelCache.Torrents;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace InferenceMesh.Gateway.Torrents;

/// <summary>
/// BitTorrent distribution in the gateway: the store, the tracker, the engine (qBittorrent or aria2, started on first
/// use, or at start when shares were saved) and <see cref="ModelTorrents"/>. A missing engine only fails share and pull,
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

/// <summary>Seeds the saved shares at start (in the background) and stops the engine with the gateway.</summary>
internal sealed partial class TorrentHostedService(ModelTorrents torrents, ITorrentEngine engine, ILogger<TorrentHostedService> logger) : IHostedService
{
    private Task? _resume;

    /// <summary>The start's seeding of the saved shares; completed before the service started.</summary>
    internal Task Resumed => _resume ?? Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _resume = Task.Run(async () =>
        {
            try
            {
                var count = await torrents.ResumeSharesAsync(CancellationToken.None);
                if (count > 0)
                {
                    Log.Resumed(logger, count);
                }
            }
            catch (Exception e) when (e is TorrentEngineException or TorrentEngineRefusedException or IOException or UnauthorizedAccessException)
            {
                Log.ResumeFailed(logger, e.Message);
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_resume is not null)
        {
            await _resume.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        await torrents.DisposeAsync();
        await engine.DisposeAsync();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 620, Level = LogLevel.Information, Message = "seeding {Count} shared models again")]
        public static partial void Resumed(ILogger logger, int count);

        [LoggerMessage(EventId = 621, Level = LogLevel.Warning, Message = "shared models are not seeded: {Reason}")]
        public static partial void ResumeFailed(ILogger logger, string reason);
    }
}
