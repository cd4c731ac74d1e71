using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using InferenceMesh.Classifier;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Context;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.Lora;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Router.Routing;
using IRouter = InferenceMesh.Router.Routing.IRouter;

namespace InferenceMesh.Gateway.Routing;

/// <summary>
/// Reads a chat-completions body once, validates it, classifies the concatenated message contents (in
/// process; the text is never logged), applies the caller's <c>X-InferenceMesh-Privacy</c> header and asks the
/// router for a plan. Shared by <c>/v1/chat/completions</c> and the dry run <c>/v1/route</c>.
/// </summary>
internal sealed partial class ChatRouting(IPrivacyClassifier classifier, IRouter router, IEnumerable<IChatContextStage> contextStages, LoraRequests lora, ILogger<ChatRouting> logger)
{
    private readonly IChatContextStage[] _contextStages = [.. contextStages];

    /// <summary>Response header with the effective privacy level the request was routed at.</summary>
    public const string PrivacyLevelHeader = "X-InferenceMesh-Privacy";

    public async Task<ApiResult<RoutedChat>> ReadAndRouteAsync(HttpContext http)
    {
        var raw = await ReadBodyAsync(http, http.RequestAborted);
        if (JsonText.ByteOrderMarkLength(raw) is > 0 and var bom) raw = raw[bom..]; // also what a backend is sent
        return await RouteAsync(http, raw);
    }

    /// <summary>
    /// Validates, classifies and routes a chat-completions body already read (the client's, or one another API translated
    /// to chat, as /v1/responses does): <paramref name="raw"/> is what a remote backend is sent, so all of it is classified.
    /// </summary>
    /// <param name="privacyFloor">The lowest level the request may be routed at (a stored chain's), as a context stage's floor; null for none.</param>
    /// <param name="dropOldestToFit">Sets <see cref="ChatExecution.DropOldestToFit"/> (a Responses request's <c>truncation: "auto"</c>).</param>
    public async Task<ApiResult<RoutedChat>> RouteAsync(HttpContext http, byte[] raw, PrivacyLevel? privacyFloor = null, bool dropOldestToFit = false)
    {
        var cancellationToken = http.RequestAborted;
        if (JsonText.RefuseUnreadableText(raw) is { } refused) return refused;

        ChatCompletionRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(raw, OpenAiJsonContext.Default.ChatCompletionRequest);
        }
        catch (JsonException ex)
        {
            var path = ex.Path;
            return ApiErrors.InvalidJson(path is null or "$" ? null : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path);
        }

        if (request is null) return ApiErrors.InvalidJson(null);
        if (string.IsNullOrEmpty(request.Model)) return ApiErrors.MissingParameter("model"); // "auto" lets the router choose

        var settings = GenerationSettings.From(request, GenerationSettings.MaxChatChoices);
        if (settings.Error is { } settingsError) return settingsError;

        var messages = PromptInputs.ChatMessages(request.Messages);
        if (messages.Error is { } messagesError) return messagesError;

        PrivacyLevel? callerLevel = null;
        if (http.Request.Headers.TryGetValue(PrivacyHeader.Name, out var header))
        {
            if (!PrivacyHeader.TryParse(header.ToString(), out var level))
            {
                return new ApiError(StatusCodes.Status400BadRequest,
                    $"The {PrivacyHeader.Name} header must be one of public, internal, confidential, restricted.",
                    ApiError.InvalidRequest, PrivacyHeader.Name, "invalid_privacy_header");
            }

            callerLevel = level;
        }

        // The context stages (conversation history, retrieval) run before classification: what they add is classified too.
        // A request none of them applies to (no extension field of ours, no preset alias) gets no frame.
        ChatContextFrame? context = null;
        if (AnyStageApplies(request))
        {
            context = new ChatContextFrame(http, request, raw, messages.Value!);
            foreach (var stage in _contextStages)
            {
                if (await stage.PrepareAsync(context, cancellationToken) is { } stageError) return stageError;
            }
        }

        var finalMessages = context?.Messages ?? messages.Value!;
        if (context is { RequestChanged: true })
        {
            // A stage changed the model or set default parameters (a preset): validate and use the edited request.
            request = context.Request;
            settings = GenerationSettings.From(request, GenerationSettings.MaxChatChoices);
            if (settings.Error is { } changedError) return changedError;
        }

        if (settings.Value!.Choices > 1 && context is { AnswerObservers.Count: > 0 })
        {
            // A conversation keeps one answer per turn: which of n would it keep? Refused before anything is sent.
            return ApiErrors.UnsupportedParameter("n", "'n' above 1 cannot be used in a conversation: a conversation keeps one answer per turn.");
        }

        var classification = Classify(finalMessages, raw);
        if (Max(context?.PrivacyFloor, privacyFloor) is { } floor)
        {
            // A floor only raises: above the caller's header (which may then not lower below it) or, without a
            // header, above the classified level; it never asks the router to lower anything.
            var classified = classification?.Privacy ?? PrivacyLevel.Confidential;
            if (callerLevel is { } asked ? asked < floor : classified < floor)
            {
                callerLevel = floor;
            }
        }
        var plan = router.Route(new RouteRequest { Model = request.Model ?? string.Empty, Classification = classification, CallerPrivacy = callerLevel });
        if (lora.NeedsLocal(request.Model, request.Extensions))
        {
            plan = LoraRouting.LocalOnly(plan); // adapters exist only here: the request (and its lora field) never leaves
        }

        http.Response.Headers[PrivacyLevelHeader] = PrivacyHeader.Format(plan.Privacy.Level);
        if (plan.Privacy.CallerLoweringRefused)
        {
            Log.LoweringRefused(logger, plan.Privacy.ClassifiedLevel, plan.Privacy.Level);
        }

        var chat = new ChatExecution
        {
            Http = http, RawBody = raw, Request = context?.Request ?? request, Messages = finalMessages, Settings = settings.Value!, Context = context,
            DropOldestToFit = dropOldestToFit,
            Capture = context is { AnswerObservers.Count: > 0 } ? new ChatAnswerCapture() : null,
        };
        return new RoutedChat(chat, classification, plan);
    }

    private static PrivacyLevel? Max(PrivacyLevel? a, PrivacyLevel? b) => a is null ? b : b is null ? a : (PrivacyLevel)Math.Max((int)a, (int)b);

    /// <summary>The answer for an empty plan: nothing was sent anywhere.</summary>
    public static ApiError EmptyPlanError(RoutePlan plan)
    {
        var onlyUnknownModel = plan.Exclusions.Count > 0
            && plan.Exclusions.All(e => e.Code is ExclusionCode.ModelNotOffered or ExclusionCode.NoLocalModel)
            && plan.Exclusions.Any(e => e.Code == ExclusionCode.ModelNotOffered);
        if (onlyUnknownModel)
        {
            return ApiErrors.ModelNotFound() with
            {
                Message = $"No backend offers the model '{plan.RequestedModel}'. GET /v1/models lists the local models; POST /v1/route explains a routing decision.",
            };
        }

        return new ApiError(StatusCodes.Status503ServiceUnavailable,
            $"No backend allowed for this request can serve it, so nothing was sent anywhere: {plan.EmptyReason}",
            ApiError.ServerError, null, "no_backend_available");
    }

    /// <summary>
    /// The whole body: straight into one array of the declared length when that is within the size limit (the usual
    /// case), else copied as it comes (Kestrel's limit then stops an oversized body with a 413 while it is read).
    /// </summary>
    private static async Task<byte[]> ReadBodyAsync(HttpContext http, CancellationToken cancellationToken)
    {
        var limit = http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
        if (http.Request.ContentLength is { } length && length <= (limit ?? 0) && length <= Array.MaxLength)
        {
            var body = new byte[length];
            await http.Request.Body.ReadExactlyAsync(body, cancellationToken);
            return body;
        }

        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    private bool AnyStageApplies(ChatCompletionRequest request)
    {
        foreach (var stage in _contextStages)
        {
            if (stage.AppliesTo(request))
            {
                return true;
            }
        }

        return false;
    }

    private Classification? Classify(IReadOnlyList<Engine.ChatMessage> messages, byte[] raw)
    {
        var text = string.Join('\n', messages.Select(m => m.Content));
        try
        {
            // Whatever else of the body goes upstream is scanned by the detectors too (not by the prompt model).
            return classifier.Classify(text, ForwardedText.Extract(raw));
        }
        catch (Exception ex)
        {
            // Fail closed: no classification routes as confidential. The exception never carries the text we passed.
            Log.ClassifierFailed(logger, ex.GetType().Name);
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1600, Level = LogLevel.Information, Message = "The privacy header asked to lower the level; refused, routed at {Level} (classified {Classified})")]
        public static partial void LoweringRefused(ILogger logger, PrivacyLevel classified, PrivacyLevel level);

        [LoggerMessage(EventId = 1601, Level = LogLevel.Error, Message = "The classifier failed ({ExceptionType}); the request is routed as confidential")]
        public static partial void ClassifierFailed(ILogger logger, string exceptionType);
    }
}

/// <summary>Sets the backend header; "none" until a backend answers.</summary>
internal static class BackendHeader
{
    public static void Set(HttpContext http, string backend) => http.Response.Headers[BackendDefaults.BackendHeader] = backend;
}
