using System.Net;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Invites;
using InferenceMesh.Mesh.Listener;
using InferenceMesh.Mesh.Serf;
using InferenceMesh.Mesh.Trust;
using Microsoft.Extensions.Hosting;

namespace InferenceMesh.Mesh.Membership;

/// <summary>
/// Runs the mesh membership: starts the supervised serf agent (node name = node id, tags: https endpoint and
/// models digest), connects to its RPC (reconnecting with backoff when the agent restarts), streams member
/// events into the <see cref="PeerDirectory"/>, joins the bootstrap addresses (config + <c>mesh join</c>),
/// and fetches peers' adverts on join/update events and every <see cref="MeshOptions.AdvertRefreshInterval"/>.
/// </summary>
public sealed partial class MeshMembership(
    MeshOptions options,
    NodeIdentity identity,
    TrustPolicy trust,
    MeshListener listener,
    SerfAgentSupervisor supervisor,
    AdvertClient adverts,
    LocalAdvertBuilder localAdvert,
    IPeerDirectory directory,
    TimeProvider time,
    ILogger<MeshMembership> logger) : BackgroundService
{
    public const string HttpsTag = "https";
    public const string ModelsTag = "models";

    private readonly PeerDirectory _directory = (PeerDirectory)directory;
    private SerfRpcClient? _rpc;
    private string _modelsDigest = "";

    /// <summary>The gossip address this node's agent binds (after start).</summary>
    public IPEndPoint? GossipEndpoint { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var https = listener.BoundEndpoint ?? throw new InvalidOperationException("The mesh listener must start first.");
        var gossipAddress = options.Gossip?.Address ?? https.Address;
        GossipEndpoint = options.FixedGossip ?? new IPEndPoint(gossipAddress, SerfAgentSupervisor.FreeTcpPort(gossipAddress, udpToo: true));
        _modelsDigest = SafeModelsDigest();
        supervisor.Start(new SerfAgentSpec(identity.Id.ToString(), GossipEndpoint, Tags(https)));
        Log.Started(logger, identity.Id.ToString(), https.ToString(), GossipEndpoint.ToString());

        var backoff = TimeSpan.FromMilliseconds(200);
        while (!stoppingToken.IsCancellationRequested)
        {
            var (client, error, message) = await SerfRpcClient.ConnectAsync(supervisor.RpcEndpoint, supervisor.AuthKey, stoppingToken).ConfigureAwait(false);
            if (client is null)
            {
                if (error != SerfRpcError.ConnectFailed)
                {
                    Log.RpcFailed(logger, error, message ?? "");
                }

                await DelayAsync(backoff, stoppingToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MeshDefaults.RestartBackoffMax.Ticks));
                continue;
            }

            backoff = TimeSpan.FromMilliseconds(200);
            _rpc = client;
            try
            {
                await RunConnectedAsync(client, https, stoppingToken).ConfigureAwait(false);
            }
            finally
            {
                _rpc = null;
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task RunConnectedAsync(SerfRpcClient client, IPEndPoint https, CancellationToken stoppingToken)
    {
        if (await client.StreamMemberEventsAsync(OnEventAsync, stoppingToken).ConfigureAwait(false) is { } streamError)
        {
            Log.RpcFailed(logger, SerfRpcError.CommandFailed, streamError);
            return;
        }

        await RefreshMembersAsync(client, stoppingToken).ConfigureAwait(false);
        await JoinBootstrapAsync(client, stoppingToken).ConfigureAwait(false);

        using var timer = new PeriodicTimer(options.AdvertRefreshInterval, time);
        var tick = timer.WaitForNextTickAsync(stoppingToken).AsTask();
        while (!stoppingToken.IsCancellationRequested)
        {
            var done = await Task.WhenAny(tick, client.Completion).ConfigureAwait(false);
            if (done == client.Completion)
            {
                Log.RpcLost(logger);
                return;
            }

            if (!await tick.ConfigureAwait(false))
            {
                return;
            }

            // Our own models changed: bump the tag so peers refresh our advert.
            var digest = SafeModelsDigest();
            if (digest != _modelsDigest)
            {
                _modelsDigest = digest;
                var tags = Tags(https);
                supervisor.UpdateTags(tags);
                await client.SetTagsAsync(tags, stoppingToken).ConfigureAwait(false);
            }

            if (!_directory.Peers.Any(p => p.State is "alive" or "suspect"))
            {
                await JoinBootstrapAsync(client, stoppingToken).ConfigureAwait(false);
            }

            await RefreshMembersAsync(client, stoppingToken).ConfigureAwait(false);
            await Task.WhenAll(_directory.Peers.Where(p => p.State is "alive" or "suspect").Select(p => FetchAdvertAsync(p.Id, stoppingToken))).ConfigureAwait(false);
            tick = timer.WaitForNextTickAsync(stoppingToken).AsTask();
        }
    }

    private Dictionary<string, string> Tags(IPEndPoint https) => new(StringComparer.Ordinal)
    {
        [HttpsTag] = https.ToString(),
        [ModelsTag] = _modelsDigest,
    };

    private string SafeModelsDigest()
    {
        try
        {
            return localAdvert.Build().ModelsDigest;
        }
        catch (IOException)
        {
            return "";
        }
    }

    private async Task RefreshMembersAsync(SerfRpcClient client, CancellationToken cancellationToken)
    {
        var (members, error) = await client.MembersAsync(cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            Log.RpcFailed(logger, SerfRpcError.CommandFailed, error);
            return;
        }

        foreach (var member in members)
        {
            Upsert(member, cancellationToken);
        }
    }

    private async Task JoinBootstrapAsync(SerfRpcClient client, CancellationToken cancellationToken)
    {
        IReadOnlyList<JoinedNode> joinedNodes;
        try
        {
            joinedNodes = MeshStateFile.Read(options.StateFile);
        }
        catch (MeshStateException ex)
        {
            // Read at start-up already (an unreadable file stops it there); changed since: the config's list still joins.
            Log.StateUnreadable(logger, ex.Message);
            joinedNodes = [];
        }

        var addresses = options.Bootstrap
            .Concat(joinedNodes.SelectMany(j => j.Gossip))
            .Where(a => a != GossipEndpoint?.ToString())
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (addresses.Count == 0)
        {
            return;
        }

        var (joined, error) = await client.JoinAsync(addresses, cancellationToken).ConfigureAwait(false);
        Log.Joined(logger, joined, addresses.Count, error ?? "");
    }

    private ValueTask OnEventAsync(SerfMemberEvent memberEvent)
    {
        foreach (var member in memberEvent.Members)
        {
            if (memberEvent.Event == "member-reap")
            {
                if (NodeId.TryParse(member.Name, out var id))
                {
                    _directory.Remove(id);
                    adverts.Forget(id);
                    Log.Reaped(logger, id.Short);
                }

                continue;
            }

            Upsert(member, CancellationToken.None);
        }

        return ValueTask.CompletedTask;
    }

    private void Upsert(SerfMember member, CancellationToken cancellationToken)
    {
        if (!NodeId.TryParse(member.Name, out var id))
        {
            Log.BadMemberName(logger);
            return;
        }

        if (id.Equals(identity.Id))
        {
            return;
        }

        var level = trust.Resolve(id);
        var https = member.Tags.GetValueOrDefault(HttpsTag);
        var digest = member.Tags.GetValueOrDefault(ModelsTag);
        var previous = _directory.Get(id);
        var lastError = previous?.LastAdvertError ?? AdvertFetchError.None;
        var state = PeerDirectory.StateFrom(member.Status, lastError);
        var peer = new PeerInfo
        {
            Id = id,
            State = state,
            Trust = TrustPolicy.ToWire(level),
            GossipAddress = new IPEndPoint(member.Address, member.Port).ToString(),
            HttpsEndpoint = https,
            ModelsDigest = digest,
            Advert = previous?.Advert,
            AdvertAt = previous?.AdvertAt,
            LastAdvertError = lastError,
            ChangedAt = previous?.State == state ? previous.ChangedAt : time.GetUtcNow(),
        };
        if (previous is null || previous.State != peer.State || previous.HttpsEndpoint != https || previous.ModelsDigest != digest || previous.Trust != peer.Trust)
        {
            if (previous?.State != peer.State)
            {
                Log.PeerState(logger, id.Short, peer.State, peer.Trust);
            }

            _directory.Set(peer);
        }

        var stale = previous?.Advert is null || previous.ModelsDigest != digest || previous.HttpsEndpoint != https;
        if (member.Status == "alive" && level is not null && https is not null && stale)
        {
            _ = FetchAdvertAsync(id, cancellationToken);
        }
    }

    private async Task FetchAdvertAsync(NodeId id, CancellationToken cancellationToken)
    {
        var peer = _directory.Get(id);
        if (peer?.HttpsEndpoint is not { } endpoint || trust.Resolve(id) is null)
        {
            return;
        }

        var (advert, error) = await adverts.FetchAsync(id, endpoint, cancellationToken).ConfigureAwait(false);
        if (error != AdvertFetchError.None)
        {
            Log.AdvertFailed(logger, id.Short, error);
        }

        _directory.Update(id, p => p with
        {
            Advert = advert ?? p.Advert,
            AdvertAt = advert is null ? p.AdvertAt : time.GetUtcNow(),
            LastAdvertError = error,
            State = p.State is "alive" or "suspect" ? (error == AdvertFetchError.None ? "alive" : "suspect") : p.State,
        });
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        supervisor.StopSupervising();
        if (options.LeaveOnShutdown && _rpc is { } rpc)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), time);
            try
            {
                await rpc.LeaveAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await supervisor.DisposeAsync().ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "mesh node {NodeId}: https {Https}, gossip {Gossip}")]
        public static partial void Started(ILogger logger, string nodeId, string https, string gossip);

        [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "serf RPC failed: {Error} {Message}")]
        public static partial void RpcFailed(ILogger logger, SerfRpcError error, string message);

        [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "serf RPC connection lost; reconnecting")]
        public static partial void RpcLost(ILogger logger);

        [LoggerMessage(EventId = 303, Level = LogLevel.Information, Message = "joined {Joined} of {Count} bootstrap addresses {Error}")]
        public static partial void Joined(ILogger logger, int joined, int count, string error);

        [LoggerMessage(EventId = 304, Level = LogLevel.Information, Message = "peer {NodeId} is {State} (trust {Trust})")]
        public static partial void PeerState(ILogger logger, string nodeId, string state, string trust);

        [LoggerMessage(EventId = 305, Level = LogLevel.Information, Message = "peer {NodeId} reaped")]
        public static partial void Reaped(ILogger logger, string nodeId);

        [LoggerMessage(EventId = 306, Level = LogLevel.Warning, Message = "advert of {NodeId} not fetched: {Error}")]
        public static partial void AdvertFailed(ILogger logger, string nodeId, AdvertFetchError error);

        [LoggerMessage(EventId = 307, Level = LogLevel.Warning, Message = "ignored a serf member whose name is not a node id")]
        public static partial void BadMemberName(ILogger logger);

        [LoggerMessage(EventId = 308, Level = LogLevel.Warning, Message = "{Reason} Joining the configured bootstrap addresses only.")]
        public static partial void StateUnreadable(ILogger logger, string reason);
    }
}
