using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>One announce (BEP 3), already parsed from the query string.</summary>
/// <param name="InfoHash">40 lowercase hex.</param>
/// <param name="PeerId">The 20-byte peer id.</param>
/// <param name="Address">The peer's address: the connection's remote address (the "ip" parameter is ignored).</param>
/// <param name="Event">"started", "completed", "stopped" or empty.</param>
public sealed record AnnounceRequest(string InfoHash, byte[] PeerId, IPAddress Address, int Port, string Event, int NumWant, bool Compact, long Left);

/// <summary>
/// The gateway's own BitTorrent tracker (BEP 3, compact peers of BEP 23, IPv6 peers6 of BEP 7), in memory. It answers
/// only for infohashes this gateway shares or pulls (a private swarm needs no public tracker, and this one serves no
/// strangers' torrents); peers that stop announcing expire after <see cref="PeerLifetime"/>. Thread-safe.
/// </summary>
public sealed class TorrentTracker(TimeProvider time)
{
    /// <summary>How often peers are asked to announce. The default value is 60 s.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A peer silent this long is dropped (two intervals and a half).</summary>
    public TimeSpan PeerLifetime => Interval * 2.5;

    /// <summary>Most peers returned in one answer.</summary>
    public const int MaxPeersPerAnswer = 50;

    private readonly object _gate = new();
    private readonly Dictionary<string, Dictionary<string, Peer>> _swarms = new(StringComparer.Ordinal);

    /// <summary>Lets peers announce <paramref name="infoHash"/> (40 lowercase hex: a v1 infohash or a truncated v2 one).</summary>
    public void Register(string infoHash)
    {
        if (infoHash.Length != 40 || !MagnetLink.IsInfoHash(infoHash))
        {
            throw new ArgumentException("An infohash is 40 lowercase hex characters.", nameof(infoHash));
        }

        lock (_gate)
        {
            _swarms.TryAdd(infoHash, new Dictionary<string, Peer>(StringComparer.Ordinal));
        }
    }

    public void Unregister(string infoHash)
    {
        lock (_gate)
        {
            _swarms.Remove(infoHash);
        }
    }

    public bool Knows(string infoHash)
    {
        lock (_gate)
        {
            return _swarms.ContainsKey(infoHash);
        }
    }

    /// <summary>Peers currently in a swarm (for tests and status).</summary>
    public int PeerCount(string infoHash)
    {
        lock (_gate)
        {
            return _swarms.TryGetValue(infoHash, out var swarm) ? swarm.Count : 0;
        }
    }

    /// <summary>Raised after an announce for a torrent this tracker serves was recorded (outside its lock).</summary>
    public event Action<AnnounceRequest>? Announced;

    /// <summary>Handles an announce and returns the bencoded answer (a failure reason for unknown torrents).</summary>
    public byte[] Announce(AnnounceRequest request)
    {
        var answer = Record(request);
        if (answer is null)
        {
            return Failure("unknown torrent: this tracker serves only the torrents its gateway shares");
        }

        Announced?.Invoke(request);
        return answer;
    }

    private byte[]? Record(AnnounceRequest request)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (!_swarms.TryGetValue(request.InfoHash, out var swarm))
            {
                return null;
            }

            foreach (var stale in swarm.Where(p => now - p.Value.Seen > PeerLifetime).Select(p => p.Key).ToList())
            {
                swarm.Remove(stale);
            }

            var key = Convert.ToHexString(request.PeerId);
            if (request.Event == "stopped")
            {
                swarm.Remove(key);
            }
            else
            {
                swarm[key] = new Peer(request.PeerId, request.Address, request.Port, now, request.Left == 0);
            }

            var others = swarm.Where(p => p.Key != key).Select(p => p.Value)
                .OrderByDescending(p => p.Seen)
                .Take(Math.Clamp(request.NumWant, 0, MaxPeersPerAnswer))
                .ToList();
            var complete = swarm.Values.Count(p => p.Seeding);
            var answer = new Dictionary<string, BValue>
            {
                ["interval"] = new BInteger((long)Interval.TotalSeconds),
                ["min interval"] = new BInteger(Math.Max(1, (long)Interval.TotalSeconds / 4)),
                ["complete"] = new BInteger(complete),
                ["incomplete"] = new BInteger(swarm.Count - complete),
            };
            if (request.Compact)
            {
                answer["peers"] = new BString(Compact(others, AddressFamily.InterNetwork, 4));
                answer["peers6"] = new BString(Compact(others, AddressFamily.InterNetworkV6, 16));
            }
            else
            {
                answer["peers"] = new BList(others.Select(p => (BValue)new BDictionary(new Dictionary<string, BValue>
                {
                    ["peer id"] = new BString(p.PeerId),
                    ["ip"] = new BString(p.Address.ToString()),
                    ["port"] = new BInteger(p.Port),
                })).ToList());
            }

            return Bencode.Encode(new BDictionary(answer));
        }
    }

    public static byte[] Failure(string reason) =>
        Bencode.Encode(new BDictionary(new Dictionary<string, BValue> { ["failure reason"] = new BString(reason) }));

    private static byte[] Compact(List<Peer> peers, AddressFamily family, int addressBytes)
    {
        var selected = peers.Where(p => p.Address.AddressFamily == family).ToList();
        var bytes = new byte[selected.Count * (addressBytes + 2)];
        for (var i = 0; i < selected.Count; i++)
        {
            var slot = bytes.AsSpan(i * (addressBytes + 2), addressBytes + 2);
            selected[i].Address.TryWriteBytes(slot, out _);
            BinaryPrimitives.WriteUInt16BigEndian(slot[addressBytes..], (ushort)selected[i].Port);
        }

        return bytes;
    }

    private sealed record Peer(byte[] PeerId, IPAddress Address, int Port, DateTimeOffset Seen, bool Seeding);
}
