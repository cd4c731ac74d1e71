using System.Collections.Concurrent;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;

namespace InferenceMesh.Mesh.Serving;

/// <summary>Limits for one peer (<c>mesh.quota</c>, or per trust entry).</summary>
/// <param name="Concurrent">Requests of this peer served at the same time. The default value is 4.</param>
/// <param name="TokensPerMinute">Prompt + completion tokens served to this peer over the last 60 s. The default value is 100000.</param>
public sealed record PeerQuota(int Concurrent = MeshDefaults.QuotaConcurrent, int TokensPerMinute = MeshDefaults.QuotaTokensPerMinute);

/// <summary>Why a peer request was not admitted.</summary>
public enum QuotaRefusal
{
    None,
    Concurrent,
    TokensPerMinute,
}

/// <summary>
/// Per-peer quotas of the serving node: concurrent requests (a counter held for the whole response) and tokens per
/// minute (a sliding 60 s window of what was served, checked before admission: a request is admitted while the
/// window is below the limit, so one request may overshoot it; the next waits). Thread-safe.
/// </summary>
public sealed class PeerQuotas(MeshOptions options, TimeProvider time)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<NodeId, PeerUsage> _usage = new();

    public PeerQuota LimitsFor(NodeId id) =>
        options.Trust.FirstOrDefault(t => t.Id.Equals(id))?.Quota ?? options.Quota;

    /// <summary>Admits a request (the lease frees its concurrency slot) or says why not and when to retry.</summary>
    public QuotaRefusal TryEnter(NodeId id, out IDisposable? lease, out TimeSpan retryAfter)
    {
        var limits = LimitsFor(id);
        var usage = _usage.GetOrAdd(id, _ => new PeerUsage());
        var now = time.GetUtcNow();
        lock (usage)
        {
            usage.Prune(now - Window);
            if (usage.Tokens >= limits.TokensPerMinute)
            {
                lease = null;
                retryAfter = usage.OldestAt is { } oldest ? (oldest + Window) - now : Window;
                return QuotaRefusal.TokensPerMinute;
            }

            if (usage.Active >= limits.Concurrent)
            {
                lease = null;
                retryAfter = TimeSpan.FromSeconds(1);
                return QuotaRefusal.Concurrent;
            }

            usage.Active++;
        }

        lease = new Lease(usage);
        retryAfter = TimeSpan.Zero;
        return QuotaRefusal.None;
    }

    /// <summary>Counts tokens served to <paramref name="id"/> now.</summary>
    public void RecordTokens(NodeId id, int tokens)
    {
        var usage = _usage.GetOrAdd(id, _ => new PeerUsage());
        lock (usage)
        {
            usage.Add(time.GetUtcNow(), tokens);
        }
    }

    private sealed class PeerUsage
    {
        private readonly Queue<(DateTimeOffset At, int Tokens)> _served = new();

        public int Active { get; set; }

        public long Tokens { get; private set; }

        public DateTimeOffset? OldestAt => _served.Count > 0 ? _served.Peek().At : null;

        public void Add(DateTimeOffset at, int tokens)
        {
            _served.Enqueue((at, tokens));
            Tokens += tokens;
        }

        public void Prune(DateTimeOffset before)
        {
            while (_served.Count > 0 && _served.Peek().At <= before)
            {
                Tokens -= _served.Dequeue().Tokens;
            }
        }
    }

    private sealed class Lease(PeerUsage usage) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                lock (usage)
                {
                    usage.Active--;
                }
            }
        }
    }
}
