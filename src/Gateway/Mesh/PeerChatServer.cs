using System.Globalization;
using System.Text;
using System.Text.Json;
using InferenceMesh.Classifier;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Routing;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Receipts;
using InferenceMesh.Mesh.Serving;
using InferenceMesh.Mesh.Trust;
using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Policies;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Gateway.Mesh;

/// <summary>
/// Serves a peer's chat request (<c>POST /mesh/v1/chat/completions</c> on the mesh listener, mTLS only) with this
/// node's own engine, and nothing else: a peer request is never forwarded to a cloud or another peer (hop limit 1:
/// the simplest rule that can never exceed what the origin's policy allows). In order:
/// hop limit (<c>X-InferenceMesh-Hops</c> ≥ 1) and origin privacy level (<c>X-InferenceMesh-Privacy</c>) present → 400;
/// the body valid → 400; the level (the stricter of the origin's and this node's own classification) accepted by this
/// node's policy from the caller's trust level (class <c>peer</c> allowed and the trust level in <c>peers</c>) → 403;
/// the model served here → 404; the caller's quota (concurrent, tokens per minute) → 429 with Retry-After; then the
/// local engine, streamed or not, with a signed receipt (header, or an SSE comment before [DONE]).
/// Errors are in OpenAI's shape and never echo the prompt.
/// </summary>
internal sealed partial class PeerChatServer(
    InferenceService inference,
    IPrivacyClassifier classifier,
    IRoutingConfigProvider routing,
    ILocalModelDirectory localModels,
    IModelCatalog catalog,
    ModelDigestCache digests,
    NodeIdentity self,
    PeerQuotas quotas,
    PeerServingStats stats,
    TimeProvider time,
    ILogger<PeerChatServer> logger) : IPeerRequestHandler
{
    public async Task HandleChatAsync(HttpContext http, PeerCaller caller)
    {
        var result = await ServeAsync(http, caller);
        if (result is ApiError error)
        {
            if (error.StatusCode == StatusCodes.Status429TooManyRequests) stats.OnQuotaExceeded();
            else stats.OnRefused();
            Log.Refused(logger, caller.Id.Short, error.StatusCode, error.Code ?? "");
        }

        await result.ExecuteAsync(http);
    }

    private async Task<IResult> ServeAsync(HttpContext http, PeerCaller caller)
    {
        var headers = http.Request.Headers;
        if (!int.TryParse(headers[PeerHeaders.Hops].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var hops) || hops < 1)
        {
            return new ApiError(StatusCodes.Status400BadRequest, $"A peer request needs {PeerHeaders.Hops} of at least 1.", ApiError.InvalidRequest, PeerHeaders.Hops, "hop_limit");
        }

        if (!PrivacyHeader.TryParse(headers[PeerHeaders.Privacy].ToString(), out var origin))
        {
            return new ApiError(StatusCodes.Status400BadRequest, $"A peer request needs {PeerHeaders.Privacy}: public, internal, confidential or restricted.",
                ApiError.InvalidRequest, PeerHeaders.Privacy, "invalid_privacy_header");
        }

        byte[] raw;
        using (var buffer = new MemoryStream())
        {
            await http.Request.Body.CopyToAsync(buffer, http.RequestAborted);
            raw = buffer.ToArray();
        }

        if (JsonText.RefuseUnreadableText(raw) is { } refused) return refused;
        ChatCompletionRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(raw, OpenAiJsonContext.Default.ChatCompletionRequest);
        }
        catch (JsonException)
        {
            request = null;
        }

        if (request is null) return ApiErrors.InvalidJson(null);
        var settings = GenerationSettings.From(request, GenerationSettings.MaxChatChoices); // n choices as the local chat step runs them
        if (settings.Error is { } settingsError) return settingsError;
        var messages = PromptInputs.ChatMessages(request.Messages);
        if (messages.Error is { } messagesError) return messagesError;

        // This node protects itself too: the stricter of the origin's level and its own classification.
        var policy = routing.Current.Policy;
        var level = Stricter(origin, Classify(messages.Value!, policy.UnsureAs));
        var rule = policy.RuleFor(level);
        var trust = caller.Trust switch { TrustLevel.Trusted => PeerTrust.Trusted, TrustLevel.Community => PeerTrust.Community, _ => PeerTrust.Open };
        if (!rule.Allow.Contains(BackendClass.Peer) || !rule.Peers.Contains(trust))
        {
            return new ApiError(StatusCodes.Status403Forbidden,
                $"This node's policy does not accept {PrivacyHeader.Format(level)} requests from a {TrustPolicy.ToWire(caller.Trust)} peer.",
                ApiError.InvalidRequest, null, "privacy_not_allowed");
        }

        var model = string.IsNullOrEmpty(request.Model) || string.Equals(request.Model, RouterDefaults.AutoModel, StringComparison.OrdinalIgnoreCase)
            ? localModels.DefaultModel
            : request.Model;
        if (model is null || !localModels.CanServe(model)) return ApiErrors.ModelNotFound();

        if (quotas.TryEnter(caller.Id, out var lease, out var retryAfter) is var refusal and not QuotaRefusal.None)
        {
            return new ApiError(StatusCodes.Status429TooManyRequests,
                refusal == QuotaRefusal.Concurrent
                    ? "Too many concurrent requests from your node; retry later."
                    : "Your node used its tokens per minute on this node; retry later.",
                refusal == QuotaRefusal.Concurrent ? "requests" : "tokens", null, "peer_quota_exceeded", Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)));
        }

        using (lease)
        {
            var requestHash = UsageReceipt.Sha256Hex(raw);
            // The digest this node advertises for the model (cached per file while its size and write time stay the same).
            var digest = catalog.Find(model) is { } entry
                ? digests.GetDigest(new LocalModelFile(entry.Id, entry.Path, entry.SizeBytes, entry.LastWriteUtc, entry.Quantization, entry.TrainContextLength))
                : string.Empty;
            UsageReceipt Receipt(Usage usage)
            {
                quotas.RecordTokens(caller.Id, usage.TotalTokens);
                return new UsageReceipt
                {
                    Server = self.Id.ToString(),
                    Client = caller.Id.ToString(),
                    RequestSha256 = requestHash,
                    Model = model,
                    ModelSha256 = digest,
                    PromptTokens = usage.PromptTokens,
                    CompletionTokens = usage.CompletionTokens,
                    TimeMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
                }.Sign(self);
            }

            var chat = new ChatExecution { Http = http, RawBody = raw, Request = request, Messages = messages.Value!, Settings = settings.Value! };
            var result = await LocalChat.RunAsync(inference, model, chat, http.RequestAborted,
                usage => Encoding.UTF8.GetBytes(ReceiptWire.CommentPrefix + Receipt(usage).ToWire() + "\n\n"));
            if (result is JsonOk<ChatCompletionResponse> { Value.Usage: { } usage })
            {
                http.Response.Headers[ReceiptWire.Header] = Receipt(usage).ToWire();
            }

            if (result is not ApiError)
            {
                stats.OnServed();
            }

            await result.ExecuteAsync(http); // inside the lease: a stream holds its concurrency slot to the end
            return Results.Empty;
        }
    }

    private PrivacyLevel Classify(IReadOnlyList<Engine.ChatMessage> messages, PrivacyLevel unsureAs)
    {
        try
        {
            var classification = classifier.Classify(string.Join('\n', messages.Select(m => m.Content)));
            return classification.Unsure ? Stricter(classification.Privacy, unsureAs) : classification.Privacy;
        }
        catch (Exception ex)
        {
            Log.ClassifierFailed(logger, ex.GetType().Name);
            return PrivacyLevel.Confidential; // fail closed
        }
    }

    private static PrivacyLevel Stricter(PrivacyLevel a, PrivacyLevel b) => a > b ? a : b;

    private static partial class Log
    {
        [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "Refused a request from peer {Peer}: {Status} {Code}")]
        public static partial void Refused(ILogger logger, string peer, int status, string code);

        [LoggerMessage(EventId = 2101, Level = LogLevel.Error, Message = "The classifier failed ({ExceptionType}) on a peer request; treated as confidential")]
        public static partial void ClassifierFailed(ILogger logger, string exceptionType);
    }
}
