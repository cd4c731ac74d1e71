using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>POST /v1/chat/completions: messages through the model's chat template, streamed or not.</summary>
internal static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/chat/completions", CreateAsync);
        return app;
    }

    public static async Task<Results<JsonOk<ChatCompletionResponse>, GenerationStreamResult, ApiError>> CreateAsync(
        HttpContext http, [FromServices] InferenceService inference)
    {
        var cancellationToken = http.RequestAborted;
        var body = await InferenceService.ReadBodyAsync(http.Request, OpenAiJsonContext.Default.ChatCompletionRequest, cancellationToken);
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;

        var settings = GenerationSettings.From(request);
        if (settings.Error is { } settingsError) return settingsError;

        var messages = PromptInputs.ChatMessages(request.Messages);
        if (messages.Error is { } messagesError) return messagesError;

        var model = await inference.ResolveModelAsync(request.Model, cancellationToken);
        if (model.Error is { } modelError) return modelError;
        var loaded = model.Value!;

        var prompt = loaded.ApplyChatTemplate(messages.Value!);
        if (!prompt.Succeeded) return inference.Map(prompt.Failure!, "messages");

        var started = await inference.StartAsync(loaded, settings.Value!.ToRequest(prompt.Value!), "messages", cancellationToken);
        if (started.Error is { } startError) return startError;

        var id = InferenceService.NewId("chatcmpl-");
        var created = inference.Time.GetUtcNow().ToUnixTimeSeconds();
        if (settings.Value.Stream)
        {
            return new GenerationStreamResult(started.Value!, new ChatStreamFormat(id, created, loaded.Id), settings.Value.IncludeUsage, "messages", inference);
        }

        await using var generation = started.Value!;
        var (text, outcome) = await generation.CollectAsync(cancellationToken);
        if (outcome.Failure is { } failure) return inference.Map(failure, "messages");

        return new JsonOk<ChatCompletionResponse>(
            new ChatCompletionResponse(
                id, created, loaded.Id,
                [new ChatChoice(0, new AssistantMessage(text), RunningGeneration.FinishReasonText(outcome.FinishReason))],
                Usage.Of(outcome.PromptTokens, outcome.CompletionTokens)),
            OpenAiJsonContext.Default.ChatCompletionResponse);
    }
}
