using System.Text.Json;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Reputation;

namespace InferenceMesh.Gateway.Mesh;

/// <summary>
/// Redundant execution to catch a lying peer. For a share (<c>mesh.verifyShare</c>) of the greedy (temperature 0)
/// requests a peer answered, the same body runs again on this node's own model with the digest the peer advertised
/// for the model it ran, in the background after the client got its answer; the texts must be equal (greedy decoding
/// of the same file with the same settings is deterministic). A mismatch halves the peer's reputation
/// (<see cref="PeerReputation"/>); a match moves it back towards 1. A request whose model digest this node does not
/// have is not verified (counted in <see cref="Unverifiable"/>). The texts are compared, never logged.
/// </summary>
internal sealed partial class PeerVerifier(
    MeshOptions options,
    InferenceService inference,
    LocalAdvertBuilder adverts,
    PeerReputation reputation,
    TimeProvider time,
    ILogger<PeerVerifier> logger,
    Func<double>? random = null)
{
    private static readonly TimeSpan VerifyTimeout = TimeSpan.FromMinutes(2);
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;
    private long _unverifiable;
    private long _running;

    /// <summary>Greedy requests the node could not verify (no local model with the advertised digest).</summary>
    public long Unverifiable => Interlocked.Read(ref _unverifiable);

    /// <summary>Verifications running now.</summary>
    public long Running => Interlocked.Read(ref _running);

    public bool ShouldVerify(ChatCompletionRequest request) =>
        request.Temperature is 0 && options.VerifyShare > 0 && _random() < options.VerifyShare;

    /// <summary>Runs the verification in the background; never throws.</summary>
    public void Schedule(NodeId peer, string peerModel, string? advertisedDigest, byte[] body, string peerText)
    {
        Interlocked.Increment(ref _running);
        _ = Task.Run(async () =>
        {
            try
            {
                await VerifyAsync(peer, peerModel, advertisedDigest, body, peerText);
            }
            catch (Exception ex)
            {
                Log.Failed(logger, peer.Short, ex.GetType().Name);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        });
    }

    private async Task VerifyAsync(NodeId peer, string peerModel, string? digest, byte[] body, string peerText)
    {
        var local = digest is null ? null : adverts.Build().Models.FirstOrDefault(m => string.Equals(m.Sha256, digest, StringComparison.OrdinalIgnoreCase));
        if (local is null)
        {
            Interlocked.Increment(ref _unverifiable);
            Log.Unverifiable(logger, peer.Short, peerModel);
            return;
        }

        var request = JsonSerializer.Deserialize(body, OpenAiJsonContext.Default.ChatCompletionRequest);
        if (request is null
            || GenerationSettings.From(request) is not { Value: { } settings }
            || PromptInputs.ChatMessages(request.Messages) is not { Value: { } messages })
        {
            return;
        }

        using var timeout = new CancellationTokenSource(VerifyTimeout, time);
        var resolved = await inference.ResolveModelAsync(local.Name, timeout.Token);
        if (resolved.Value is not { } loaded) return;
        var prompt = loaded.ApplyChatTemplate(messages);
        if (!prompt.Succeeded) return;
        var started = await inference.StartAsync(loaded, settings.ToRequest(prompt.Value!), "messages", timeout.Token);
        if (started.Value is not { } generation) return;
        await using (generation)
        {
            var (text, outcome) = await generation.CollectAsync(timeout.Token);
            if (outcome.Failure is not null) return;
            if (string.Equals(text, peerText, StringComparison.Ordinal))
            {
                reputation.VerificationMatched(peer);
                Log.Matched(logger, peer.Short, peerModel, reputation.ScoreOf(peer));
            }
            else
            {
                reputation.VerificationMismatched(peer, $"{peerModel} sha256:{digest}", time.GetUtcNow());
                Log.Mismatched(logger, peer.Short, peerModel, digest!, reputation.ScoreOf(peer));
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2300, Level = LogLevel.Information, Message = "Verified peer {Peer} on {Model}: same answer; reputation {Reputation:0.00}")]
        public static partial void Matched(ILogger logger, string peer, string model, double reputation);

        [LoggerMessage(EventId = 2301, Level = LogLevel.Warning, Message = "Peer {Peer} answered differently from this node's model with the digest it advertised for {Model} (sha256:{Digest}); reputation {Reputation:0.00}")]
        public static partial void Mismatched(ILogger logger, string peer, string model, string digest, double reputation);

        [LoggerMessage(EventId = 2302, Level = LogLevel.Debug, Message = "Peer {Peer}'s answer on {Model} cannot be verified: no local model with its digest")]
        public static partial void Unverifiable(ILogger logger, string peer, string model);

        [LoggerMessage(EventId = 2303, Level = LogLevel.Warning, Message = "Verification of peer {Peer} failed: {Exception}")]
        public static partial void Failed(ILogger logger, string peer, string exception);
    }
}
