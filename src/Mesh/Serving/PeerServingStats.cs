namespace InferenceMesh.Mesh.Serving;

/// <summary>Counts of peer chat requests this node received on its mesh listener (shown in <c>/health</c>). Thread-safe.</summary>
public sealed class PeerServingStats
{
    private long _received;
    private long _served;
    private long _refused;
    private long _quotaExceeded;

    /// <summary>Every request that reached <c>POST /mesh/v1/chat/completions</c>, before any check.</summary>
    public long Received => Interlocked.Read(ref _received);

    public long Served => Interlocked.Read(ref _served);

    /// <summary>Refused for privacy, hop limit or a bad request.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public long QuotaExceeded => Interlocked.Read(ref _quotaExceeded);

    public void OnReceived() => Interlocked.Increment(ref _received);

    public void OnServed() => Interlocked.Increment(ref _served);

    public void OnRefused() => Interlocked.Increment(ref _refused);

    public void OnQuotaExceeded() => Interlocked.Increment(ref _quotaExceeded);
}
