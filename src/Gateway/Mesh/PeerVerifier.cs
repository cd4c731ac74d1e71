using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceMesh.Classifier;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Backends.Peer;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Receipts;
using InferenceMesh.Mesh.Reputation;
using InferenceMesh.Mesh.Serving;
using InferenceMesh.Mesh.Transport;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Gateway.Mesh;

/// <summary>
/// Redundant execution to catch a lying peer. For a share (<c>mesh.verifyShare</c>) of the greedy (temperature 0)
/// requests a peer answered, the same body runs again on this node's own model with the digest the peer advertised
/// for the model it ran, in the background after the client got its answer; the texts must be equal, forks at near
/// ties aside (<see cref="GreedyAnswerCheck"/>: greedy decoding is repeatable only for the same batch and thread
/// count). A mismatch halves the peer's reputation
/// (<see cref="PeerReputation"/>); a match moves it back towards 1. When this node has no model with that digest, the
/// request goes (not streamed) to a second peer that advertises the digest and that the policy allows for the request's
/// level (the router decides, with model <c>sha256:digest</c>); its receipt is checked like any other. Two peers that
/// disagree both lose (r × 0.5): nothing tells which one lied. Without a local model or a second peer the request is
/// not verified (counted in <see cref="Unverifiable"/>). The texts are compared, never logged.
/// </summary>
internal sealed partial class PeerVerifier(
    MeshOptions options,
    InferenceService inference,
    LocalAdvertBuilder adverts,
    PeerReputation reputation,
    InferenceMesh.Router.Routing.IRouter router,
    PeerConnections connections,
    PeerReceiptChecker receipts,
    TimeProvider time,
    ILogger<PeerVerifier> logger,
    Func<double>? random = null)
{
    private static readonly TimeSpan VerifyTimeout = TimeSpan.FromMinutes(2);
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;
    private readonly GreedyAnswerCheck _check = new(inference);
    private long _unverifiable;
    private long _running;

    /// <summary>Greedy requests the node could not verify (no local model with the advertised digest, or an inconclusive check).</summary>
    public long Unverifiable => Interlocked.Read(ref _unverifiable);

    /// <summary>Verifications running now.</summary>
    public long Running => Interlocked.Read(ref _running);

    public bool ShouldVerify(ChatCompletionRequest request) =>
        IsGreedy(request) && options.VerifyShare > 0 && _random() < options.VerifyShare;

    /// <summary>
    /// Only greedy answers are verified: a sampled one (temperature above 0, or none given: OpenAI's default is 1) is
    /// not meant to be repeatable, so it is neither verified nor counted as unverifiable.
    /// </summary>
    internal static bool IsGreedy(ChatCompletionRequest request) => request.Temperature is 0;

    /// <summary>Runs the verification in the background; never throws.</summary>
    public void Schedule(NodeId peer, string peerBackend, string peerModel, string? advertisedDigest, string? privacy, byte[] body, PeerAnswer peerText)
    {
        Interlocked.Increment(ref _running);
        _ = Task.Run(async () =>
        {
            try
            {
                await VerifyAsync(peer, peerBackend, peerModel, advertisedDigest, privacy, body, peerText);
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

    private async Task VerifyAsync(NodeId peer, string peerBackend, string peerModel, string? digest, string? privacy, byte[] body, PeerAnswer peerText)
    {
        var local = digest is null ? null : adverts.Build().Models.FirstOrDefault(m => string.Equals(m.Sha256, digest, StringComparison.OrdinalIgnoreCase));
        if (local is null)
        {
            if (digest is null || !await VerifyOnSecondPeerAsync(peer, peerBackend, peerModel, digest, privacy, body, peerText))
            {
                Interlocked.Increment(ref _unverifiable);
                Log.Unverifiable(logger, peer.Short, peerModel);
            }

            return;
        }

        var request = JsonSerializer.Deserialize(body, OpenAiJsonContext.Default.ChatCompletionRequest);
        if (request is null
            || GenerationSettings.From(request, GenerationSettings.MaxChatChoices) is not { Value: { } settings }
            || PromptInputs.ChatMessages(request.Messages) is not { Value: { } messages }
            || LocalFeatures.RefuseUnsupported(request) is not null
            || LocalTools.For(request).Value is not null) // the peer answered in its own tool format: nothing to compare the text with

        {
            return;
        }

        // The peer ran it under the response format's grammar (LocalChat); so must the copy, or the texts differ.
        var grammar = LocalFeatures.ResponseGrammar(request).Value;

        using var timeout = new CancellationTokenSource(VerifyTimeout, time);
        var resolved = await inference.ResolveModelAsync(local.Name, timeout.Token);
        if (resolved.Value is not { } loaded) return;
        var prompt = loaded.ApplyChatTemplate(messages);
        if (!prompt.Succeeded) return;
        var generationRequest = settings.ToRequest(prompt.Value!);
        var check = await _check.CheckAsync(loaded, generationRequest with { Sampling = generationRequest.Sampling with { Grammar = grammar } }, peerText, timeout.Token);
        Record(peer, peerModel, digest!, check, null);
    }

    /// <summary>Applies a verdict: a match or a mismatch moves the reputation (of both peers when a second peer disagrees), an inconclusive check counts as unverifiable.</summary>
    private void Record(NodeId peer, string peerModel, string digest, AnswerCheck check, (NodeId Id, string Backend, string Model, string PeerBackend)? second)
    {
        switch (check.Verdict)
        {
            case AnswerVerdict.Same:
                reputation.VerificationMatched(peer);
                Log.Matched(logger, peer.Short, peerModel, check.Forks, reputation.ScoreOf(peer));
                break;
            case AnswerVerdict.Differs when second is { } other:
                var now = time.GetUtcNow();
                reputation.VerificationMismatched(peer, $"{peerModel} sha256:{digest} (against {other.Backend})", now);
                reputation.VerificationMismatched(other.Id, $"{other.Model} sha256:{digest} (against {other.PeerBackend})", now);
                Log.Mismatched(logger, peer.Short, peerModel, digest, reputation.ScoreOf(peer));
                break;
            case AnswerVerdict.Differs:
                reputation.VerificationMismatched(peer, $"{peerModel} sha256:{digest}", time.GetUtcNow());
                Log.Mismatched(logger, peer.Short, peerModel, digest, reputation.ScoreOf(peer));
                break;
            default:
                Interlocked.Increment(ref _unverifiable);
                Log.Inconclusive(logger, peer.Short, peerModel, check.Forks);
                break;
        }
    }

    /// <summary>Asks a second peer (chosen by the router under the same privacy level) the same question; false when there is none or it did not answer.</summary>
    private async Task<bool> VerifyOnSecondPeerAsync(NodeId peer, string peerBackend, string peerModel, string digest, string? privacy, byte[] body, PeerAnswer peerText)
    {
        if (!PrivacyHeader.TryParse(privacy ?? string.Empty, out var level))
        {
            return false;
        }

        var plan = router.Route(new RouteRequest { Model = "sha256:" + digest, Classification = new Classification(level, [], level, null, false) });
        var second = plan.Steps.FirstOrDefault(s => s is { Kind: BackendKind.Peer, Config.PeerNodeId: not null } && s.Backend != peerBackend);
        if (second is null || !NodeId.TryParse(second.Config!.PeerNodeId, out var secondId) || second.Config.BaseUrl is null)
        {
            return false;
        }

        var request = JsonNode.Parse(body)!.AsObject();
        request["model"] = second.UpstreamModel;
        request["stream"] = false;
        request.Remove("stream_options");
        // Its log probabilities tell whether a difference is a fork at a near tie (GreedyAnswerCheck.CompareWithSecondPeer).
        request["logprobs"] = true;
        request["top_logprobs"] = GreedyAnswerCheck.Alternatives;
        var sent = Encoding.UTF8.GetBytes(request.ToJsonString());
        using var message = new HttpRequestMessage(HttpMethod.Post, second.Config.BaseUrl.ToString().TrimEnd('/') + "/chat/completions")
        {
            Content = new ByteArrayContent(sent),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        message.Headers.TryAddWithoutValidation(PeerHeaders.Privacy, PrivacyHeader.Format(level));
        message.Headers.TryAddWithoutValidation(PeerHeaders.Hops, PeerHeaders.HopLimit.ToString(CultureInfo.InvariantCulture));
        using var timeout = new CancellationTokenSource(VerifyTimeout, time);
        using var response = await connections.For(secondId).SendAsync(message, timeout.Token);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return false;
        }

        var answer = await response.Content.ReadAsByteArrayAsync(timeout.Token);
        var receipt = response.Headers.TryGetValues(ReceiptWire.Header, out var values) ? values.FirstOrDefault() : null;
        receipts.Check(secondId, second.Backend, receipt, UsageReceipt.Sha256Hex(sent));
        if (PeerChatBackend.Answer(answer) is not { } secondAnswer
            || JsonSerializer.Deserialize(body, OpenAiJsonContext.Default.ChatCompletionRequest) is not { } original
            || GenerationSettings.From(original, GenerationSettings.MaxChatChoices) is not { Value: { } settings })
        {
            return false;
        }

        var check = _check.CompareWithSecondPeer(peerText, secondAnswer, SecondPeerTokens(answer), settings.Sampling);
        Record(peer, peerModel, digest, check, (secondId, second.Backend, second.UpstreamModel, peerBackend));
        return true;
    }

    /// <summary>The tokens of a chat.completion's <c>logprobs.content</c> (empty when it has none); ids are made up, equal for equal bytes.</summary>
    internal static List<TokenLogProb> SecondPeerTokens(byte[] answer)
    {
        using var document = JsonDocument.Parse(answer);
        var tokens = new List<TokenLogProb>();
        if (!document.RootElement.GetProperty("choices")[0].TryGetProperty("logprobs", out var logProbs) || logProbs.ValueKind != JsonValueKind.Object
            || !logProbs.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
        {
            return tokens;
        }

        foreach (var entry in content.EnumerateArray())
        {
            var top = entry.TryGetProperty("top_logprobs", out var alternatives) && alternatives.ValueKind == JsonValueKind.Array
                ? alternatives.EnumerateArray().Select((a, i) => new TokenCandidate(i + 1, Bytes(a), a.GetProperty("logprob").GetSingle())).ToList()
                : [];
            var bytes = Bytes(entry);
            var id = top.FirstOrDefault(t => t.Bytes.AsSpan().SequenceEqual(bytes)).Token;
            tokens.Add(new TokenLogProb(new TokenCandidate(id, bytes, entry.GetProperty("logprob").GetSingle()), top));
        }

        return tokens;

        static byte[] Bytes(JsonElement element) =>
            element.TryGetProperty("bytes", out var bytes) && bytes.ValueKind == JsonValueKind.Array
                ? [.. bytes.EnumerateArray().Select(b => (byte)b.GetInt32())]
                : Encoding.UTF8.GetBytes(element.GetProperty("token").GetString() ?? string.Empty);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2300, Level = LogLevel.Information, Message = "Verified peer {Peer} on {Model}: same answer ({Forks} forks at near ties); reputation {Reputation:0.00}")]
        public static partial void Matched(ILogger logger, string peer, string model, int forks, double reputation);

        [LoggerMessage(EventId = 2301, Level = LogLevel.Warning, Message = "Peer {Peer} answered differently from this node's model with the digest it advertised for {Model} (sha256:{Digest}); reputation {Reputation:0.00}")]
        public static partial void Mismatched(ILogger logger, string peer, string model, string digest, double reputation);

        [LoggerMessage(EventId = 2302, Level = LogLevel.Debug, Message = "Peer {Peer}'s answer on {Model} cannot be verified: no local model with its digest")]
        public static partial void Unverifiable(ILogger logger, string peer, string model);

        [LoggerMessage(EventId = 2304, Level = LogLevel.Information, Message = "Peer {Peer}'s answer on {Model} cannot be verified: the copy failed, the texts forked at near ties {Forks} times or where a branch cannot be followed, or one was cut for room where the other goes on")]
        public static partial void Inconclusive(ILogger logger, string peer, string model, int forks);

        [LoggerMessage(EventId = 2303, Level = LogLevel.Warning, Message = "Verification of peer {Peer} failed: {Exception}")]
        public static partial void Failed(ILogger logger, string peer, string exception);
    }
}
