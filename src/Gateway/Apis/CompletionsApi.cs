using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>
/// POST /v1/completions: the legacy completion API; the prompt is used raw (no template). Served by the local engine
/// only; <c>X-InferenceMesh-Backend</c> is "none" for a request rejected before that, "local" from then on (errors included).
/// </summary>
internal static class CompletionsApi
{
    public static IEndpointRouteBuilder MapCompletionsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/completions", CreateAsync);
        return app;
    }

    public static async Task<Results<JsonOk<CompletionResponse>, GenerationStreamResult, ApiError>> CreateAsync(
        HttpContext http, [FromServices] InferenceService inference)
    {
        var cancellationToken = http.RequestAborted;
        var body = await InferenceService.ReadLocalRequestAsync(http, OpenAiJsonContext.Default.CompletionRequest); // "none" until the engine is reached
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;

        // max_tokens 0 with echo only reads the prompt (to score it: echo + logprobs, as evaluation harnesses ask).
        var readOnly = request is { MaxTokens: 0, Echo: true };
        var settings = GenerationSettings.From(readOnly ? request with { MaxTokens = null } : request);
        if (settings.Error is { } settingsError) return settingsError;

        var prompt = PromptInputs.CompletionPrompt(request.Prompt);
        if (prompt.Error is { } promptError) return promptError;
        if (LocalFeatures.RefuseUnsupported(request) is { } unsupported) return unsupported;
        var echo = request.Echo == true ? prompt.Value! : string.Empty;

        var model = await inference.ResolveLocalAsync(http, request.Model, request.Extensions); // "local" from here on, errors included
        if (model.Error is { } modelError) return modelError;
        var (loaded, adapters) = model.Value;

        var topLogProbs = LogProbs.Requested(request).Value;
        var generationRequest = settings.Value!.ToRequest(prompt.Value!) with
        {
            Adapters = adapters,
            TopLogProbs = topLogProbs,
            ScorePrompt = topLogProbs is not null && echo.Length > 0,
            MaxTokens = readOnly ? 0 : settings.Value.MaxTokens,
        };
        var started = await inference.StartAsync(loaded, generationRequest, "prompt", cancellationToken);
        if (started.Error is { } startError) return startError;

        var id = InferenceService.NewId("cmpl-");
        var created = inference.Time.GetUtcNow().ToUnixTimeSeconds();
        if (settings.Value.Stream)
        {
            var format = new CompletionStreamFormat(
                id, created, loaded.Id, settings.Value.IncludeUsage, echo, generationRequest.ScorePrompt ? started.Value!.PromptLogProbs : null);
            return new GenerationStreamResult(started.Value!, format, "prompt", inference);
        }

        await using var generation = started.Value!;
        var (text, logProbs, outcome) = await generation.CollectAsync(cancellationToken);
        if (outcome.Failure is { } failure) return inference.Map(failure, "prompt");
        var scoredPrompt = await generation.PromptLogProbs;

        return new JsonOk<CompletionResponse>(
            new CompletionResponse(
                id, created, loaded.Id,
                [new CompletionChoice(0, echo + text, RunningGeneration.FinishReasonText(outcome.FinishReason), LogProbs.ForCompletion(logProbs ?? (topLogProbs is null ? null : []), echo.Length, scoredPrompt, echo))],
                Usage.Of(outcome.PromptTokens, outcome.CompletionTokens)),
            OpenAiJsonContext.Default.CompletionResponse);
    }
}
