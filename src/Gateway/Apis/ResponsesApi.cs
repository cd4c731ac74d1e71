using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceMesh.Classifier;
using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Responses;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Context;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Responses;
using InferenceMesh.Gateway.Routing;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>
/// POST /v1/responses: OpenAI's Responses API, served as a chat completion (<see cref="ResponseChatRequest"/>) through the
/// same pipeline as /v1/chat/completions: classification, policy, the privacy header, the routing plan, failover to the
/// local model, the local continuation of a broken stream, <c>X-InferenceMesh-Backend</c>. The chat answer reaches the
/// client in the Responses shape (<see cref="ResponseBodyTranslation"/>). A response is stored on this machine (the
/// context store's database) unless <c>store: false</c> or the gateway runs with <c>--no-history</c>;
/// <c>previous_response_id</c> puts the stored chain before the input and routes no lower than the chain's level.
/// GET and DELETE /v1/responses/{id} read and delete a stored response, GET /v1/responses/{id}/input_items lists the items it
/// was generated from; POST /v1/responses/{id}/cancel refuses as OpenAI does for a response that did not run in the
/// background (none does here). A stored response expires after <c>--response-retention-days</c> (30 by default).
/// </summary>
internal static partial class ResponsesApi
{
    /// <summary>OpenAI's limits on <c>metadata</c>.</summary>
    public const int MaxMetadataEntries = 16, MaxMetadataKeyLength = 64, MaxMetadataValueLength = 512;

    /// <summary>OpenAI's page sizes of input item lists.</summary>
    public const int ListDefaultLimit = 20, ListMaxLimit = 100;

    private static readonly JsonElement TextFormatDefault = JsonDocument.Parse("""{"type":"text"}""").RootElement;

    public static IEndpointRouteBuilder MapResponsesApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/responses", CreateAsync);
        app.MapGet("/v1/responses/{id}", Get);
        app.MapDelete("/v1/responses/{id}", Delete);
        app.MapGet("/v1/responses/{id}/input_items", InputItems);
        app.MapPost("/v1/responses/{id}/cancel", Cancel);
        return app;
    }

    /// <returns>An <see cref="ApiError"/> for a request refused before routing; otherwise an empty result: the chat pipeline wrote the answer, translated.</returns>
    public static async Task<IResult> CreateAsync(
        HttpContext http, [FromServices] ChatRouting routing, [FromServices] ChatExecutor executor, [FromServices] InferenceService inference,
        [FromServices] IResponseStore responses, [FromServices] ConversationStoreOptions history, [FromServices] ILoggerFactory loggers)
    {
        var body = await InferenceService.ReadLocalRequestAsync(http, OpenAiJsonContext.Default.ResponseRequest); // "none" until a backend answers
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;

        if (RefuseMetadata(request.Metadata) is { } metadataError) return metadataError;
        if (request.Store == true && !history.Enabled)
        {
            return ApiErrors.UnsupportedParameter("store", "'store' true is not available: this gateway runs with --no-history and stores no responses. Send store false or leave it out.");
        }

        var store = history.Enabled && request.Store != false; // OpenAI's default: stored (here, on this machine only)
        var chain = Chain(request.PreviousResponseId, responses, history.Enabled);
        if (chain.Error is { } chainError) return chainError;
        var (earlier, floor) = chain.Value;
        var settings = ResponseSettings.Read(request);
        if (settings.Error is { } settingsError) return settingsError;
        var chatBody = ResponseChatRequest.Translate(request, settings.Value!, earlier);
        if (chatBody.Error is { } translateError) return translateError;

        var translation = ResponseBodyTranslation.Install(http, Template(request, settings.Value!, inference.Time) with { Store = store });
        try
        {
            var routed = await routing.RouteAsync(http, chatBody.Value!, floor, dropOldestToFit: settings.Value!.TruncateAuto);
            IResult result;
            if (routed.Error is { } routeError)
            {
                result = routeError;
            }
            else if (routed.Value!.Plan.IsEmpty)
            {
                result = ChatRouting.EmptyPlanError(routed.Value.Plan); // nothing is sent anywhere
            }
            else
            {
                var plan = routed.Value.Plan;
                translation.OnAnswering = response => response with { Reasoning = ReasoningEcho(http, plan, settings.Value!) };
                if (store)
                {
                    var level = routed.Value.Plan.Privacy.Level;
                    var logger = loggers.CreateLogger(typeof(ResponsesApi).FullName!);
                    translation.OnFinal = final => Save(responses, request, final, level, inference.Time, logger);
                }

                result = ObservedChatResult.Wrap(await executor.ExecuteAsync(routed.Value), routed.Value, loggers.CreateLogger<ObservedChatResult>());
            }

            await result.ExecuteAsync(http); // into the translation
        }
        catch
        {
            translation.Uninstall();
            throw;
        }

        await translation.FinishAsync();
        return Results.Empty;
    }

    /// <summary>GET /v1/responses/{id}: the stored response as it was answered.</summary>
    public static IResult Get(string id, [FromServices] IResponseStore responses) =>
        responses.Get(id) is { } stored
            ? Results.Text(stored.Response, "application/json; charset=utf-8")
            : ResponseNotFound(id);

    /// <summary>
    /// GET /v1/responses/{id}/input_items: the items the response was generated from (its chain's inputs and outputs, then its
    /// own input), in OpenAI's list shape, paged with <c>limit</c> (1-100, default 20), <c>order</c> (default desc: newest
    /// first) and <c>after</c>.
    /// </summary>
    public static IResult InputItems(string id, HttpContext http, [FromServices] IResponseStore responses)
    {
        var query = ListQuery.Read(http.Request.Query, ListDefaultLimit, ListMaxLimit, ResponseInputItems.IsItemId, "'msg_', 'fc_' or 'fco_' and 24 lowercase hex digits");
        if (query.Error is { } queryError) return queryError;
        if (responses.Chain(id) is not { } chain)
        {
            return ResponseNotFound(id);
        }

        if (ResponseInputItems.OfChain(chain) is not { } items)
        {
            return new ApiError(StatusCodes.Status404NotFound,
                $"The response '{id}' (or one it followed) was stored by an earlier version of the gateway, which did not keep its input items; GET /v1/responses/{id} still returns it.",
                ApiError.InvalidRequest, null, "input_items_not_stored");
        }

        var (limit, ascending, after) = query.Value!;
        if (!ascending)
        {
            items.Reverse();
        }

        var start = 0;
        if (after is not null)
        {
            start = items.FindIndex(item => (string?)item["id"] == after) + 1;
            if (start == 0) return ListQuery.UnknownCursor();
        }

        var page = items.Skip(start).Take(limit).Select(item => JsonSerializer.SerializeToElement(item, OpenAiJsonContext.Default.JsonNode)).ToList();
        return new JsonOk<ListWire<JsonElement>>(
            new ListWire<JsonElement>(page, page.Count > 0 ? page[0].GetProperty("id").GetString() : null, page.Count > 0 ? page[^1].GetProperty("id").GetString() : null,
                HasMore: start + page.Count < items.Count),
            OpenAiJsonContext.Default.ListWireJsonElement);
    }

    /// <summary>
    /// POST /v1/responses/{id}/cancel: OpenAI cancels only a response created with <c>background: true</c>, and answers any
    /// other with a 400; here every response is answered while its request waits (<c>background</c> is refused), so a stored
    /// response gets that 400 and an unknown one a 404. A request still running is cancelled by closing its connection.
    /// </summary>
    public static IResult Cancel(string id, [FromServices] IResponseStore responses) =>
        responses.Get(id) is null
            ? ResponseNotFound(id)
            : new ApiError(StatusCodes.Status400BadRequest,
                "Cannot cancel a synchronous response. Only responses created with background true can be cancelled, and this gateway answers every response while its request waits (background is not supported).",
                ApiError.InvalidRequest, null, null);

    /// <summary>DELETE /v1/responses/{id}: forgets it (the responses that followed it keep their own turns).</summary>
    public static IResult Delete(string id, [FromServices] IResponseStore responses) =>
        responses.Delete(id)
            ? new JsonOk<ResponseDeleted>(new ResponseDeleted(id), OpenAiJsonContext.Default.ResponseDeleted)
            : ResponseNotFound(id);

    /// <summary>The stored chain's messages (oldest first) and its level, for <c>previous_response_id</c>; nothing without one.</summary>
    private static ApiResult<(JsonArray? Earlier, PrivacyLevel? Floor)> Chain(string? previousId, IResponseStore responses, bool enabled)
    {
        if (previousId is null)
        {
            return (null, null);
        }

        if ((enabled ? responses.Chain(previousId) : null) is not { } chain)
        {
            return new ApiError(StatusCodes.Status400BadRequest,
                $"No stored response has the id '{previousId}' (never stored, deleted, or stored with store false).",
                ApiError.InvalidRequest, "previous_response_id", "previous_response_not_found");
        }

        var earlier = new JsonArray();
        foreach (var stored in chain)
        {
            foreach (var message in JsonNode.Parse(stored.Messages)!.AsArray())
            {
                earlier.Add(message!.DeepClone());
            }
        }

        return (earlier, (PrivacyLevel)chain.Max(r => r.Privacy));
    }

    /// <summary>Keeps the turn: its input messages, the answer as one assistant message, the response object and the level it was routed at.</summary>
    private static void Save(IResponseStore responses, ResponseRequest request, ResponseObject final, PrivacyLevel level, TimeProvider time, ILogger logger)
    {
        try
        {
            var messages = ResponseChatRequest.Messages(null, request.Input).Value!; // valid: translated before
            if (ResponseChatRequest.AssistantMessage(final.Output) is { } answer)
            {
                messages.Add(answer);
            }

            responses.Save(new StoredResponse(
                final.Id, request.PreviousResponseId, time.GetUtcNow(), (int)level, messages.ToJsonString(),
                System.Text.Encoding.UTF8.GetString(ResponseBodyTranslation.Serialize(final)),
                ResponseInputItems.From(request.Input!.Value).ToJsonString()));
        }
        catch (Exception ex)
        {
            Log.SaveFailed(logger, ex.GetType().Name, ex);
        }
    }

    /// <summary>
    /// <c>reasoning</c> as the answering backend took it: an OpenAI-compatible upstream was sent <c>reasoning_effort</c>; any
    /// other (the local model, Anthropic, a mesh peer) does not reason on request, and the echo is null as OpenAI's for such a model.
    /// </summary>
    private static ResponseReasoning ReasoningEcho(HttpContext http, Router.Routing.RoutePlan plan, ResponseSettings settings)
    {
        var answering = http.Response.Headers[Backends.BackendDefaults.BackendHeader].ToString();
        return plan.Steps.Any(step => step.Kind == Router.Configuration.BackendKind.OpenAi && string.Equals(step.Backend, answering, StringComparison.OrdinalIgnoreCase))
            ? settings.Reasoning
            : ResponseReasoning.None;
    }

    /// <summary>The response in progress: its id, creation time and the request's settings echoed as OpenAI echoes them.</summary>
    private static ResponseObject Template(ResponseRequest request, ResponseSettings settings, TimeProvider time)
    {
        var fields = request.Extensions;
        return new ResponseObject
        {
            Id = InferenceService.NewId("resp_"),
            CreatedAt = time.GetUtcNow().ToUnixTimeSeconds(),
            Status = "in_progress",
            Instructions = request.Instructions,
            MaxOutputTokens = request.MaxOutputTokens,
            Metadata = request.Metadata ?? [],
            Model = request.Model ?? string.Empty,
            Temperature = request.Temperature ?? 1,
            // The format as sent when there is one, otherwise the default; the verbosity as sent or OpenAI's default.
            Text = JsonSerializer.SerializeToElement<JsonNode>(new JsonObject
            {
                ["format"] = JsonNode.Parse((request.Text is { ValueKind: JsonValueKind.Object } text && text.TryGetProperty("format", out var format)
                    && format.ValueKind == JsonValueKind.Object ? format : TextFormatDefault).GetRawText()),
                ["verbosity"] = settings.Verbosity ?? ResponseSettings.DefaultVerbosity,
            }, OpenAiJsonContext.Default.JsonNode),
            Truncation = settings.Truncation,
            TopP = request.TopP ?? 1,
            Tools = fields is not null && fields.TryGetValue("tools", out var tools) && tools.ValueKind == JsonValueKind.Array ? tools : ResponseDefaults.Tools,
            ToolChoice = fields is not null && fields.TryGetValue("tool_choice", out var choice) && choice.ValueKind is JsonValueKind.String or JsonValueKind.Object
                ? choice
                : ResponseDefaults.ToolChoice,
            ParallelToolCalls = fields is null || !fields.TryGetValue("parallel_tool_calls", out var parallel) || parallel.ValueKind != JsonValueKind.False,
            PreviousResponseId = request.PreviousResponseId,
        };
    }

    private static ApiError ResponseNotFound(string id) =>
        new(StatusCodes.Status404NotFound, $"No stored response has the id '{id}'.", ApiError.InvalidRequest, null, "response_not_found");

    private static ApiError? RefuseMetadata(Dictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return null;
        }

        if (metadata.Count > MaxMetadataEntries)
        {
            return ApiErrors.InvalidParameter("metadata", $"'metadata' holds at most {MaxMetadataEntries} entries.");
        }

        // JSON's null reads as a null string here (the wire type cannot say otherwise); metadata values are strings.
        if (metadata.FirstOrDefault(entry => entry.Value is null) is { Key: { } nullKey })
        {
            return ApiErrors.InvalidParameter("metadata." + nullKey, "'metadata' values must be strings, not null.");
        }

        return metadata.Any(entry => entry.Key.Length > MaxMetadataKeyLength || entry.Value.Length > MaxMetadataValueLength)
            ? ApiErrors.InvalidParameter("metadata", $"'metadata' keys are at most {MaxMetadataKeyLength} characters and values at most {MaxMetadataValueLength}.")
            : null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2500, Level = LogLevel.Error, Message = "A response could not be stored ({ExceptionType}); the client's answer is unaffected")]
        public static partial void SaveFailed(ILogger logger, string exceptionType, Exception exception);
    }
}
