using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>
/// POST /v1/responses: OpenAI's Responses API for text, served by the local engine only (like /v1/completions: the
/// request never leaves the machine; it is not routed to remote backends). Messages go through the model's chat
/// template, as on /v1/chat/completions. Nothing is stored: <c>previous_response_id</c> and <c>store: true</c> are
/// refused. <c>X-InferenceMesh-Backend</c> is "none" for a request rejected before that, "local" from then on.
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

    public static async Task<Results<JsonOk<ResponseObject>, GenerationStreamResult, ApiError>> CreateAsync(
        HttpContext http, [FromServices] InferenceService inference)
    {
        var cancellationToken = http.RequestAborted;
        var body = await InferenceService.ReadLocalRequestAsync(http, OpenAiJsonContext.Default.ResponseRequest); // "none" until the engine is reached
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;

        if (request.MaxOutputTokens is < 1)
        {
            return ApiErrors.InvalidParameter("max_output_tokens", "'max_output_tokens' must be at least 1.");
        }

        var settings = GenerationSettings.From(request with { MaxTokens = null, MaxCompletionTokens = request.MaxOutputTokens, StreamOptions = null });
        if (settings.Error is { } settingsError) return settingsError;
        if (RefuseMetadata(request.Metadata) is { } metadataError) return metadataError;

        var messages = PromptInputs.ResponseMessages(request.Instructions, request.Input);
        if (messages.Error is { } messagesError) return messagesError;
        if (LocalFeatures.RefuseUnsupported(request) is { } unsupported) return unsupported;

        var model = await inference.ResolveLocalAsync(http, request.Model, request.Extensions); // "local" from here on, errors included
        if (model.Error is { } modelError) return modelError;
        var (loaded, adapters) = model.Value;

        var prompt = loaded.ApplyChatTemplate(messages.Value!);
        if (!prompt.Succeeded) return inference.Map(prompt.Failure!, "input");

        var generation = settings.Value!.ToRequest(prompt.Value!);
        var grammar = LocalFeatures.ResponseTextGrammar(request).Value; // checked above
        var started = await inference.StartAsync(
            loaded,
            generation with { Adapters = adapters, Sampling = generation.Sampling with { Grammar = grammar }, TopLogProbs = LogProbs.Requested(request).Value },
            "input",
            cancellationToken);
        if (started.Error is { } startError) return startError;

        var response = new ResponseObject
        {
            Id = InferenceService.NewId("resp_"),
            CreatedAt = inference.Time.GetUtcNow().ToUnixTimeSeconds(),
            Status = "in_progress",
            Instructions = request.Instructions,
            MaxOutputTokens = request.MaxOutputTokens,
            Metadata = request.Metadata ?? [],
            Model = loaded.Id,
            Temperature = request.Temperature ?? 1,
            // The text settings as sent when they name a format; otherwise the default, as OpenAI echoes it.
            Text = request.Text is { ValueKind: JsonValueKind.Object } text && text.TryGetProperty("format", out var format) && format.ValueKind == JsonValueKind.Object
                ? text
                : TextFormatDefault,
            TopP = request.TopP ?? 1,
        };
        var messageId = InferenceService.NewId("msg_");
        if (settings.Value.Stream)
        {
            return new GenerationStreamResult(started.Value!, new ResponseStreamFormat(response, messageId), "input", inference);
        }

        await using var running = started.Value!;
        var (answer, logProbs, outcome) = await running.CollectAsync(cancellationToken);
        if (outcome.Failure is { } failure) return inference.Map(failure, "input");

        return new JsonOk<ResponseObject>(
            Finished(response, messageId, new ResponseOutputText(answer, LogProbs.ForChat(logProbs)?.Content), outcome.FinishReason, Usage.Of(outcome.PromptTokens, outcome.CompletionTokens)),
            OpenAiJsonContext.Default.ResponseObject);
    }

    /// <summary>The answer for a stored response's URL: this server stores none (responses are answered with <c>store: false</c>).</summary>
    public static ApiError NotStored(string id) =>
        new(StatusCodes.Status404NotFound,
            "This server does not store responses (every response has store false), so there is none to fetch, cancel or delete: keep what you need from the answer.",
            ApiError.InvalidRequest, null, "response_not_found");

    /// <summary>The response of a generation that ended: completed, or incomplete when its token budget ran out.</summary>
    public static ResponseObject Finished(ResponseObject response, string messageId, ResponseOutputText text, FinishReason finishReason, Usage usage)
    {
        var status = finishReason == FinishReason.Length ? "incomplete" : "completed";
        return response with
        {
            Status = status,
            IncompleteDetails = finishReason == FinishReason.Length ? new ResponseIncompleteDetails("max_output_tokens") : null,
            Output = [Message(messageId, status, text)],
            Usage = ResponseUsage.Of(usage),
        };
    }

    public static ResponseOutputMessage Message(string id, string status, ResponseOutputText? text) =>
        new(id, status, text is null ? [] : [text]);

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
