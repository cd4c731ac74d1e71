using System.Text.Json;
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
/// client in the Responses shape (<see cref="ResponseBodyTranslation"/>). Nothing is stored: <c>previous_response_id</c>
/// and <c>store: true</c> are refused.
/// </summary>
internal static class ResponsesApi
{
    /// <summary>OpenAI's limits on <c>metadata</c>.</summary>
    public const int MaxMetadataEntries = 16, MaxMetadataKeyLength = 64, MaxMetadataValueLength = 512;

    private static readonly JsonElement TextFormatDefault = JsonDocument.Parse("""{"format":{"type":"text"}}""").RootElement;

    public static IEndpointRouteBuilder MapResponsesApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/responses", CreateAsync);

        // Nothing is stored, so no response can be fetched, listed, cancelled or deleted: a clear 404, not "unknown URL".
        app.MapMethods("/v1/responses/{id}", ["GET", "DELETE"], NotStored);
        app.MapGet("/v1/responses/{id}/input_items", NotStored);
        app.MapPost("/v1/responses/{id}/cancel", NotStored);
        return app;
    }

    /// <returns>An <see cref="ApiError"/> for a request refused before routing; otherwise an empty result: the chat pipeline wrote the answer, translated.</returns>
    public static async Task<IResult> CreateAsync(
        HttpContext http, [FromServices] ChatRouting routing, [FromServices] ChatExecutor executor, [FromServices] InferenceService inference,
        [FromServices] ILogger<ObservedChatResult> logger)
    {
        var body = await InferenceService.ReadLocalRequestAsync(http, OpenAiJsonContext.Default.ResponseRequest); // "none" until a backend answers
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;

        if (RefuseMetadata(request.Metadata) is { } metadataError) return metadataError;
        if (RefuseStored(request) is { } storedError) return storedError;
        var chatBody = ResponseChatRequest.Translate(request);
        if (chatBody.Error is { } translateError) return translateError;

        var translation = ResponseBodyTranslation.Install(http, Template(request, inference.Time));
        try
        {
            var routed = await routing.RouteAsync(http, chatBody.Value!);
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
                result = ObservedChatResult.Wrap(await executor.ExecuteAsync(routed.Value), routed.Value, logger);
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

    /// <summary>The response in progress: its id, creation time and the request's settings echoed as OpenAI echoes them.</summary>
    private static ResponseObject Template(ResponseRequest request, TimeProvider time)
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
            // The text settings as sent when they name a format; otherwise the default, as OpenAI echoes it.
            Text = request.Text is { ValueKind: JsonValueKind.Object } text && text.TryGetProperty("format", out var format) && format.ValueKind == JsonValueKind.Object
                ? text
                : TextFormatDefault,
            TopP = request.TopP ?? 1,
            Tools = fields is not null && fields.TryGetValue("tools", out var tools) && tools.ValueKind == JsonValueKind.Array ? tools : ResponseDefaults.Tools,
            ToolChoice = fields is not null && fields.TryGetValue("tool_choice", out var choice) && choice.ValueKind is JsonValueKind.String or JsonValueKind.Object
                ? choice
                : ResponseDefaults.ToolChoice,
            ParallelToolCalls = fields is null || !fields.TryGetValue("parallel_tool_calls", out var parallel) || parallel.ValueKind != JsonValueKind.False,
            PreviousResponseId = request.PreviousResponseId,
        };
    }

    private static ApiError? RefuseStored(ResponseRequest request)
    {
        if (request.PreviousResponseId is not null)
        {
            return ApiErrors.UnsupportedParameter("previous_response_id",
                "'previous_response_id' is not supported: this server does not store responses. Send the earlier turns in 'input'.");
        }

        return request.Store == true
            ? ApiErrors.UnsupportedParameter("store", "'store' true is not supported: this server does not store responses. Send store false or leave it out.")
            : null;
    }

    /// <summary>The answer for a stored response's URL: this server stores none (responses are answered with <c>store: false</c>).</summary>
    public static ApiError NotStored(string id) =>
        new(StatusCodes.Status404NotFound,
            "This server does not store responses (every response has store false), so there is none to fetch, cancel or delete: keep what you need from the answer.",
            ApiError.InvalidRequest, null, "response_not_found");

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

        return metadata.Any(entry => entry.Key.Length > MaxMetadataKeyLength || entry.Value.Length > MaxMetadataValueLength)
            ? ApiErrors.InvalidParameter("metadata", $"'metadata' keys are at most {MaxMetadataKeyLength} characters and values at most {MaxMetadataValueLength}.")
            : null;
    }
}
