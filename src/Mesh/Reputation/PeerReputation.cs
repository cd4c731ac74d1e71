using System.Collections.Concurrent;
using InferenceMesh.Mesh.Identity;

namespace InferenceMesh.Mesh.Reputation;

/// <summary>One peer's record: reputation 0..1 and the counts behind it.</summary>
public sealed record ReputationRecord
{
    public double Score { get; init; } = 1;
    public int Verified { get; init; }
    public int Mismatches { get; init; }
    public int InvalidReceipts { get; init; }
    public int Receipts { get; init; }
    public DateTimeOffset? LastMismatchAt { get; init; }
    /// <summary>Model and digest of the last mismatch (never any text).</summary>
    public string? LastMismatch { get; init; }
}

/// <summary>
/// Reputation per peer, in memory (a restart forgives). Starts at 1. A verification that matches moves it a tenth of
/// the way back to 1: r ← r + 0.1 × (1 − r). A mismatch halves it: r ← r × 0.5; an invalid receipt too. Below
/// <c>RouterDefaults.PeerMinReputation</c> (0.3) the router leaves the peer out: two mismatches are enough
/// (1 → 0.5 → 0.25). A peer that is left out is no longer used, so no longer verified: it stays out until this node
/// restarts or an operator removes it from the trust list. Thread-safe.
/// </summary>
public sealed class PeerReputation
{
    public const double MatchStep = 0.1;
    public const double PenaltyFactor = 0.5;

    private readonly ConcurrentDictionary<NodeId, ReputationRecord> _records = new();

    public event Action? Changed;

    public double ScoreOf(NodeId id) => _records.TryGetValue(id, out var r) ? r.Score : 1;

    public ReputationRecord Get(NodeId id) => _records.GetValueOrDefault(id) ?? new ReputationRecord();

    public IReadOnlyDictionary<NodeId, ReputationRecord> All => _records;

    public void VerificationMatched(NodeId id) =>
        Update(id, r => r with { Verified = r.Verified + 1, Score = r.Score + (MatchStep * (1 - r.Score)) });

    public void VerificationMismatched(NodeId id, string what, DateTimeOffset at) =>
        Update(id, r => r with { Verified = r.Verified + 1, Mismatches = r.Mismatches + 1, Score = r.Score * PenaltyFactor, LastMismatchAt = at, LastMismatch = what });

    public void ReceiptAccepted(NodeId id) => Update(id, r => r with { Receipts = r.Receipts + 1 });

    public void ReceiptInvalid(NodeId id) => Update(id, r => r with { InvalidReceipts = r.InvalidReceipts + 1, Score = r.Score * PenaltyFactor });

    private void Update(NodeId id, Func<ReputationRecord, ReputationRecord> change)
    {
        _records.AddOrUpdate(id, _ => change(new ReputationRecord()), (_, current) => change(current));
        Changed?.Invoke();
    }
}
