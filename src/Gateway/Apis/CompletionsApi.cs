using System.Text;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>
/// POST /v1/completions: the legacy completion API; each prompt is used raw (no template). <c>prompt</c> takes every
/// shape OpenAI accepts (<see cref="PromptList"/>: a string, a batch of strings, token ids, a batch of token-id
/// arrays), and <c>n</c> completions of each: P prompts × n choices, choice index = prompt index × n + completion index.
/// Served by the local engine only (nothing of the request leaves the machine, so it is not classified);
/// <c>X-InferenceMesh-Backend</c> is "none" for a request rejected before that, "local" from then on (errors included).
/// </summary>
internal static class CompletionsApi
{
    /// <summary>The largest <c>n</c> (OpenAI's limit); prompts × n is bounded by <see cref="CompletionBatch.MaxChoices"/>.</summary>
    public const int MaxN = 128;

    public static IEndpointRouteBuilder MapCompletionsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/completions", CreateAsync);
        return app;
    }

    public static async Task<Results<JsonOk<CompletionResponse>, ChoiceStreamResult, ApiError>> CreateAsync(
        HttpContext http, [FromServices] InferenceService inference)
    {
        var cancellationToken = http.RequestAborted;
        var body = await InferenceService.ReadLocalRequestAsync(http, OpenAiJsonContext.Default.CompletionRequest); // "none" until the engine is reached
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;

        // max_tokens 0 with echo only reads the prompt (to score it: echo + logprobs, as evaluation harnesses ask).
        var readOnly = request is { MaxTokens: 0, Echo: true };
        var settings = GenerationSettings.From(readOnly ? request with { MaxTokens = null } : request, MaxN);
        if (settings.Error is { } settingsError) return settingsError;

        var prompts = PromptList.Parse(request.Prompt, "prompt", CompletionBatch.MaxChoices);
        if (prompts.Error is { } promptError) return promptError;
        if (LocalFeatures.RefuseUnsupported(request) is { } unsupported) return unsupported;
        var echo = request.Echo == true;

        var model = await inference.ResolveLocalAsync(http, request.Model, request.Extensions); // "local" from here on, errors included
        if (model.Error is { } modelError) return modelError;
        var (loaded, adapters) = model.Value;

        var topLogProbs = LogProbs.Requested(request).Value;
        var template = settings.Value!.ToRequest(string.Empty) with
        {
            Adapters = adapters,
            TopLogProbs = topLogProbs,
            ScorePrompt = topLogProbs is not null && echo,
            MaxTokens = readOnly ? 0 : settings.Value.MaxTokens,
        };
        var jobs = CompletionBatch.Plan(prompts.Value!, request.N ?? 1, echo, template, loaded, inference);
        if (jobs.Error is { } planError) return planError;

        var started = await CompletionRun.StartAsync(inference, loaded, jobs.Value!, cancellationToken);
        if (started.Error is { } startError) return startError;
        var run = started.Value!;

        var id = InferenceService.NewId("cmpl-");
        var created = inference.Time.GetUtcNow().ToUnixTimeSeconds();
        if (settings.Value.Stream)
        {
            return new ChoiceStreamResult(run, new CompletionChoiceStreamFormat(id, created, loaded.Id), settings.Value.IncludeUsage, inference);
        }

        await using (run)
        {
            var collected = await run.CollectAsync(topLogProbs is not null, cancellationToken);
            if (collected.Error is { } failure) return failure;
            var (choices, usage) = collected.Value!;
            return new JsonOk<CompletionResponse>(
                new CompletionResponse(id, created, loaded.Id, [.. choices.Select(Choice)], usage), OpenAiJsonContext.Default.CompletionResponse);
        }
    }

    private static CompletionChoice Choice(CollectedChoice choice) => new(
        choice.Job.Index, choice.Job.Echo + choice.Text, choice.FinishReason,
        LogProbs.ForCompletion(choice.LogProbs, choice.Job.Echo.Length, choice.PromptScores, choice.Job.Echo));
}
