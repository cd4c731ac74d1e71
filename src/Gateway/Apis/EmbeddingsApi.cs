using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Routing;
using InferenceMesh.Router.Configuration;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>
/// POST /v1/embeddings: mean-pooled, L2-normalised vectors, as floats or base64. <c>input</c> is a string, an array of
/// strings, an array of token ids (the served model's own) or an array of token-id arrays (<see cref="PromptList"/>);
/// an error about one input names it (<c>input[3]</c>). Served by the local engine only; <c>X-InferenceMesh-Backend</c> is "none" for a request rejected before that, "local" from then on (errors included).
/// </summary>
internal static class EmbeddingsApi
{
    public static IEndpointRouteBuilder MapEmbeddingsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/embeddings", CreateAsync);
        return app;
    }

    public static async Task<Results<JsonOk<EmbeddingResponse>, ApiError>> CreateAsync(HttpContext http, [FromServices] InferenceService inference)
    {
        var cancellationToken = http.RequestAborted;
        var body = await InferenceService.ReadLocalRequestAsync(http, OpenAiJsonContext.Default.EmbeddingRequest); // "none" until the engine is reached
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;

        var base64 = request.EncodingFormat switch
        {
            null or "float" => false,
            "base64" => true,
            _ => (bool?)null,
        };
        if (base64 is null)
        {
            return ApiErrors.InvalidParameter("encoding_format", "'encoding_format' must be 'float' or 'base64'.");
        }

        if (request.Dimensions is not null)
        {
            return ApiErrors.InvalidParameter("dimensions", "'dimensions' is not supported: vectors have the model's embedding size.");
        }

        if (request.Lora is { ValueKind: not System.Text.Json.JsonValueKind.Null })
        {
            return ApiErrors.InvalidParameter("lora", "LoRA adapters are not applied to embeddings (see docs/lora.md).");
        }

        var parsed = PromptList.Parse(request.Input, "input", PromptInputs.MaxEmbeddingInputs);
        if (parsed.Error is { } inputError) return inputError;
        var inputs = parsed.Value!;
        if (inputs.FirstOrDefault(input => (input.Tokens is null) != (inputs[0].Tokens is null)) is { } mixed)
        {
            return ApiErrors.InvalidParameter(mixed.Param, "'input' must be all strings or all token-id arrays.");
        }

        // Served only by the local engine today: from here on every answer, errors included, is the local backend's.
        BackendHeader.Set(http, RouterDefaults.LocalBackendName);
        var model = await inference.ResolveModelAsync(request.Model, cancellationToken);
        if (model.Error is { } modelError) return modelError;
        var loaded = model.Value!;

        if (PromptList.CheckVocabulary(inputs, loaded.VocabularySize) is { } outOfVocabulary) return outOfVocabulary;
        var result = inputs[0].Tokens is null
            ? await loaded.EmbedAsync([.. inputs.Select(input => input.Text!)], cancellationToken)
            : await loaded.EmbedTokensAsync([.. inputs.Select(input => input.Tokens!)], cancellationToken);
        if (result.Failure is { } failure)
        {
            // The engine names an input by its index (input[i]); a single input is the field itself.
            var param = inputs.Count == 1 ? inputs[0].Param : failure.Param ?? "input";
            return inference.Map(failure with { Param = param }, param);
        }

        var embeddings = result.Value!;
        inference.Metrics.RecordTokens(loaded.Id, embeddings.PromptTokens, 0);
        var data = new EmbeddingData[embeddings.Vectors.Count];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = new EmbeddingData(i, new EmbeddingVector(embeddings.Vectors[i], base64.Value));
        }

        return new JsonOk<EmbeddingResponse>(
            new EmbeddingResponse(data, loaded.Id, new EmbeddingUsage(embeddings.PromptTokens, embeddings.PromptTokens)),
            OpenAiJsonContext.Default.EmbeddingResponse);
    }
}
