using System.Net;
using System.Security.Cryptography;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Reputation;
using InferenceMesh.Mesh.Serving;
using InferenceMesh.Mesh.Trust;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.Mesh.Tests.Serving;

public sealed class PeerQuotasTests
{
    private static readonly NodeId A = NodeId.FromHash(SHA256.HashData("a"u8));
    private static readonly NodeId B = NodeId.FromHash(SHA256.HashData("b"u8));
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch);

    private PeerQuotas Quotas(PeerQuota quota, PeerQuota? forB = null) => new(new MeshOptions
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        Quota = quota,
        Trust = [new TrustEntry(B, TrustLevel.Community) { Quota = forB }],
    }, _time);

    [Fact]
    public void Concurrency_is_held_by_the_lease_and_per_peer()
    {
        var quotas = Quotas(new PeerQuota(Concurrent: 1));
        Assert.Equal(QuotaRefusal.None, quotas.TryEnter(A, out var lease, out _));
        Assert.Equal(QuotaRefusal.Concurrent, quotas.TryEnter(A, out var none, out var retry));
        Assert.Null(none);
        Assert.Equal(TimeSpan.FromSeconds(1), retry);
        Assert.Equal(QuotaRefusal.None, quotas.TryEnter(B, out var other, out _)); // another peer has its own count

        lease!.Dispose();
        lease.Dispose(); // twice is harmless
        Assert.Equal(QuotaRefusal.None, quotas.TryEnter(A, out var again, out _));
        again!.Dispose();
        other!.Dispose();
    }

    [Fact]
    public void Tokens_per_minute_is_a_sliding_window_with_retry_after()
    {
        var quotas = Quotas(new PeerQuota(TokensPerMinute: 100));
        Assert.Equal(QuotaRefusal.None, quotas.TryEnter(A, out var lease, out _));
        lease!.Dispose();
        quotas.RecordTokens(A, 60);
        _time.Advance(TimeSpan.FromSeconds(20));
        quotas.RecordTokens(A, 50); // 110 in the window: over

        Assert.Equal(QuotaRefusal.TokensPerMinute, quotas.TryEnter(A, out _, out var retry));
        Assert.Equal(TimeSpan.FromSeconds(40), retry); // when the first 60 leave the window

        _time.Advance(TimeSpan.FromSeconds(40));
        Assert.Equal(QuotaRefusal.None, quotas.TryEnter(A, out var later, out _)); // 50 left
        later!.Dispose();
    }

    [Fact]
    public void A_trust_entry_quota_overrides_the_default()
    {
        var quotas = Quotas(new PeerQuota(), forB: new PeerQuota(TokensPerMinute: 1));
        Assert.Equal(new PeerQuota(4, 1), quotas.LimitsFor(B));
        Assert.Equal(new PeerQuota(), quotas.LimitsFor(A));
        quotas.RecordTokens(B, 1);
        Assert.Equal(QuotaRefusal.TokensPerMinute, quotas.TryEnter(B, out _, out _));
    }
}

public sealed class PeerReputationTests
{
    [Fact]
    public void Mismatches_halve_matches_recover_a_tenth_and_invalid_receipts_halve()
    {
        var id = NodeId.FromHash(SHA256.HashData("p"u8));
        var reputation = new PeerReputation();
        Assert.Equal(1.0, reputation.ScoreOf(id));

        reputation.VerificationMismatched(id, "m sha256:x", DateTimeOffset.UnixEpoch);
        Assert.Equal(0.5, reputation.ScoreOf(id));
        reputation.VerificationMatched(id);
        Assert.Equal(0.55, reputation.ScoreOf(id), 10);
        reputation.ReceiptInvalid(id);
        Assert.Equal(0.275, reputation.ScoreOf(id), 10);

        var record = reputation.Get(id);
        Assert.Equal((2, 1, 1, "m sha256:x"), (record.Verified, record.Mismatches, record.InvalidReceipts, record.LastMismatch));
    }
}
