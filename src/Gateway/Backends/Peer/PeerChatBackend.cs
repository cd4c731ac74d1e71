using System.Text.Json;
using InferenceMesh.Gateway.Backends.OpenAi;
using InferenceMesh.Gateway.Mesh;
using InferenceMesh.Gateway.Streaming;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Receipts;
using InferenceMesh.Mesh.Serving;
using InferenceMesh.Mesh.Transport;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace InferenceMesh.Gateway.Backends.Peer;

/// <summary>
/// Another Inference Mesh node. The chat request is forwarded like an OpenAI-compatible one (same forwarder, same
/// checks before the first byte, same relay and local continuation after it) to <c>POST {peer}/mesh/v1/chat/completions</c>
/// over mutual TLS: this node's certificate, and the server's key must hash to the node id the plan step names.
/// The request carries the routed privacy level and a hop limit of 1 (the peer serves it itself). A finished answer's
/// receipt (header, or an SSE comment before [DONE] that the relay drops) is verified against the peer's id and stored;
/// a missing or invalid one is logged and halves the peer's reputation (<see cref="PeerReceiptChecker"/>). A share of greedy answers is verified by
/// <see cref="PeerVerifier"/>.
/// </summary>
internal sealed class PeerChatBackend(
    IHttpForwarder forwarder,
    BackendTransport transport,
    BackendOptions options,
    TimeProvider time,
    PeerConnections connections,
    PeerReceiptChecker receipts,
    PeerVerifier verifier,
    IPeerCandidateSource peers) : IChatBackend
{
    private readonly OpenAiChatBackend _forward = new(forwarder, transport, options, time);

    public BackendKind Kind => BackendKind.Peer;

    public async Task<BackendAttempt> SendAsync(BackendCall call, CancellationToken cancellationToken)
    {
        if (!NodeId.TryParse(call.Backend.PeerNodeId, out var peer))
        {
            return BackendAttempt.Failed(BackendError.NotSupported); // a static "type: peer" backend without a node id
        }

        var body = call.Body.WithModel(call.UpstreamModel);
        var requestHash = UsageReceipt.Sha256Hex(body);
        string? receiptWire = null;
        var receiptChecked = false;
        byte[]? answer = null;
        OpenAiSseRelay? relay = null;
        var hooks = new ForwardHooks
        {
            Request = request =>
            {
                // No level means the router did not say: the strictest one, which a peer refuses.
                request.Headers.TryAddWithoutValidation(PeerHeaders.Privacy, string.IsNullOrEmpty(call.Privacy) ? "restricted" : call.Privacy);
                request.Headers.TryAddWithoutValidation(PeerHeaders.Hops, PeerHeaders.HopLimit.ToString(System.Globalization.CultureInfo.InvariantCulture));
            },
            Response = response =>
            {
                if (response.Headers.TryGetValues(ReceiptWire.Header, out var values))
                {
                    receiptWire = values.FirstOrDefault();
                }

                response.Headers.Remove(ReceiptWire.Header); // ours, not the client's
                if (!call.Stream)
                {
                    // A whole answer goes out with a Content-Length, so the client may have read it before the forward
                    // returns: the receipt is checked (stored, or held against the peer) before the answer is committed.
                    receipts.Check(peer, call.Backend.Name, receiptWire, requestHash);
                    receiptChecked = true;
                }
            },
            SseComment = line =>
            {
                if (line.StartsWith(ReceiptWire.CommentPrefix, StringComparison.Ordinal))
                {
                    receiptWire = line[ReceiptWire.CommentPrefix.Length..];
                }
            },
            Body = bytes => answer = bytes,
            Relay = r => relay = r,
        };

        var attempt = await _forward.ForwardAsync(call, body, connections.For(peer), hooks, cancellationToken);
        if (attempt is { Committed: true, Error: BackendError.None })
        {
            if (!receiptChecked)
            {
                // A stream's receipt is its last comment; the chunked response ends only after this returns.
                receipts.Check(peer, call.Backend.Name, receiptWire, requestHash);
            }

            var text = answer is not null ? Answer(answer) : relay?.CompletedByUpstream == true ? new PeerAnswer(relay.UpstreamText, relay.FinishReason) : null;
            if (text is { } peerAnswer && verifier.ShouldVerify(call.Request))
            {
                var digest = peers.Find(call.Backend.Name)?.Models
                    .FirstOrDefault(m => string.Equals(m.Name, call.UpstreamModel, StringComparison.OrdinalIgnoreCase))?.Digest;
                verifier.Schedule(peer, call.Backend.Name, call.UpstreamModel, digest, call.Privacy, body, peerAnswer);
            }
        }

        return attempt;
    }

    /// <summary>The peer's advert over mTLS: no prompt, proves the peer is there and is who it should be.</summary>
    public async Task<BackendAttempt> ProbeAsync(BackendConfig backend, string? apiKey, CancellationToken cancellationToken)
    {
        if (!NodeId.TryParse(backend.PeerNodeId, out var peer) || backend.BaseUrl is null)
        {
            return BackendAttempt.Failed(BackendError.NotSupported);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, backend.BaseUrl.ToString().TrimEnd('/') + "/capabilities");
        var started = time.GetTimestamp();
        try
        {
            using var response = await connections.For(peer).SendAsync(request, cancellationToken);
            var status = (int)response.StatusCode;
            return status is >= 200 and < 300
                ? new BackendAttempt(BackendError.None, false, null, status, time.GetElapsedTime(started))
                : BackendAttempt.Failed(BackendErrors.FromStatus(status), status);
        }
        catch (OperationCanceledException ex)
        {
            return BackendAttempt.Failed(BackendError.Timeout, null, ex);
        }
        catch (HttpRequestException ex)
        {
            return BackendAttempt.Failed(BackendError.Refused, null, ex);
        }
    }

    /// <summary>The first choice's message content and finish reason of a chat.completion body (already checked to be one).</summary>
    internal static PeerAnswer? Answer(byte[] body)
    {
        using var document = JsonDocument.Parse(body);
        if (!document.RootElement.TryGetProperty("choices", out var choices) || choices.GetArrayLength() == 0
            || !choices[0].TryGetProperty("message", out var message) || !message.TryGetProperty("content", out var content)
            || content.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        var finish = choices[0].TryGetProperty("finish_reason", out var reason) && reason.ValueKind == JsonValueKind.String ? reason.GetString() : null;
        return new PeerAnswer(content.GetString()!, finish);
    }
}
