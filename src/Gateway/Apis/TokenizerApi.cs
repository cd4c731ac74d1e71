using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Routing;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>
/// llama-server's tokenizer endpoints, in its request and response shapes (v0.5.0), for the tools that drive local models
/// through them (evaluation harnesses, IDE plugins that count tokens): <c>POST /tokenize</c>, <c>/detokenize</c> and
/// <c>/apply-template</c>, also under <c>/v1</c> (where our own endpoints live, for clients given the OpenAI base URL).
/// <c>model</c> picks the model (<see cref="InferenceService.ResolveServedModelAsync"/>). Served by the local engine
/// only: nothing is routed, nothing leaves the machine, nothing is classified.
/// </summary>
internal static class TokenizerApi
{
    public static IEndpointRouteBuilder MapTokenizerApi(this IEndpointRouteBuilder app)
    {
        foreach (var prefix in (string[])["", "/v1"])
        {
            app.MapPost(prefix + "/tokenize", TokenizeAsync);
            app.MapPost(prefix + "/detokenize", DetokenizeAsync);
            app.MapPost(prefix + "/apply-template", ApplyTemplateAsync);
        }

        return app;
    }

    /// <summary>
    /// <c>content</c> (a string, or an array mixing strings and token ids, as llama-server's <c>tokenize_mixed</c>: only
    /// the first item gets the special tokens) → <c>{"tokens": [ids]}</c>, or with <c>with_pieces</c>
    /// <c>{"tokens": [{"id", "piece"}]}</c>, a piece a string when its bytes are valid UTF-8, else an array of bytes.
    /// </summary>
    public static async Task<Results<JsonOk<TokenizeResponse>, JsonOk<TokenizePiecesResponse>, ApiError>> TokenizeAsync(
        HttpContext http, [FromServices] InferenceService inference)
    {
        var body = await InferenceService.ReadLocalRequestAsync(http, OpenAiJsonContext.Default.TokenizeRequest);
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;
        if (request.Content is not { ValueKind: not JsonValueKind.Null } content) return ApiErrors.MissingParameter("content");
        if (content.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
        {
            return ApiErrors.InvalidParameter("content", "'content' must be a string or an array of strings and token ids.");
        }

        var model = await inference.ResolveServedModelAsync(http, request.Model);
        if (model.Error is { } modelError) return modelError;
        var loaded = model.Value!;

        var tokens = Tokenize(loaded, content, request.AddSpecial ?? false, request.ParseSpecial ?? true);
        if (tokens.Error is { } contentError) return contentError;
        if (request.WithPieces != true)
        {
            return new JsonOk<TokenizeResponse>(new TokenizeResponse(tokens.Value!), OpenAiJsonContext.Default.TokenizeResponse);
        }

        var pieces = tokens.Value!.Select(id => new TokenWithPiece(id, new TokenPieceBytes(loaded.TokenPiece(id))));
        return new JsonOk<TokenizePiecesResponse>(new TokenizePiecesResponse([.. pieces]), OpenAiJsonContext.Default.TokenizePiecesResponse);
    }

    /// <summary><c>tokens</c> (ids of the model) → <c>{"content": text}</c>, as the engine writes a token prompt's text (<see cref="ILoadedModel.Detokenize"/>).</summary>
    public static async Task<Results<JsonOk<DetokenizeResponse>, ApiError>> DetokenizeAsync(HttpContext http, [FromServices] InferenceService inference)
    {
        var body = await InferenceService.ReadLocalRequestAsync(http, OpenAiJsonContext.Default.DetokenizeRequest);
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;
        if (request.Tokens is not { ValueKind: not JsonValueKind.Null } field) return ApiErrors.MissingParameter("tokens");
        if (field.ValueKind != JsonValueKind.Array) return ApiErrors.InvalidParameter("tokens", "'tokens' must be an array of token ids.");
        var ids = PromptList.TokenIds(field, "tokens");
        if (ids.Error is { } idError) return idError;

        var model = await inference.ResolveServedModelAsync(http, request.Model);
        if (model.Error is { } modelError) return modelError;
        var loaded = model.Value!;
        if (PromptList.CheckVocabulary([new PromptInput("tokens", null, ids.Value!)], loaded.VocabularySize) is { } outOfVocabulary) return outOfVocabulary;

        return new JsonOk<DetokenizeResponse>(new DetokenizeResponse(loaded.Detokenize(ids.Value!)), OpenAiJsonContext.Default.DetokenizeResponse);
    }

    /// <summary>
    /// A chat-completions body (<c>messages</c>, and <c>tools</c> as the local model is told them) → <c>{"prompt": text}</c>:
    /// exactly what the local chat step gives the model (<see cref="LocalChat.Prompt"/>).
    /// </summary>
    public static async Task<Results<JsonOk<ApplyTemplateResponse>, ApiError>> ApplyTemplateAsync(HttpContext http, [FromServices] InferenceService inference)
    {
        var body = await InferenceService.ReadLocalRequestAsync(http, OpenAiJsonContext.Default.ChatCompletionRequest);
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;
        var messages = PromptInputs.ChatMessages(request.Messages);
        if (messages.Error is { } messagesError) return messagesError;
        var tools = LocalTools.For(request);
        if (tools.Error is { } toolsError) return toolsError;

        var model = await inference.ResolveServedModelAsync(http, request.Model);
        if (model.Error is { } modelError) return modelError;
        var prompt = LocalChat.Prompt(model.Value!, messages.Value!, request.Messages, tools.Value);
        if (!prompt.Succeeded) return inference.Map(prompt.Failure!, "messages");

        return new JsonOk<ApplyTemplateResponse>(new ApplyTemplateResponse(prompt.Value!), OpenAiJsonContext.Default.ApplyTemplateResponse);
    }

    /// <summary>llama-server's <c>tokenize_mixed</c>: a string, or strings and ids in order (ids outside the vocabulary are a 400 naming <c>content[i]</c>).</summary>
    private static ApiResult<IReadOnlyList<int>> Tokenize(ILoadedModel model, JsonElement content, bool addSpecial, bool parseSpecial)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            return model.Tokenize(content.GetString()!, addSpecial, parseSpecial);
        }

        var tokens = new List<int>();
        var index = 0;
        foreach (var item in content.EnumerateArray())
        {
            var param = $"content[{index}]";
            if (item.ValueKind == JsonValueKind.String)
            {
                tokens.AddRange(model.Tokenize(item.GetString()!, addSpecial && index == 0, parseSpecial));
            }
            else
            {
                var id = PromptList.TokenId(item, param);
                if (id.Error is not null)
                {
                    return ApiErrors.InvalidParameter(param, $"'{param}' must be a string or a token id (an integer from 0).");
                }

                if (PromptList.OutOfVocabulary(id.Value, param, model.VocabularySize) is { } outOfVocabulary)
                {
                    return outOfVocabulary;
                }

                tokens.Add(id.Value);
            }

            index++;
        }

        return tokens;
    }
}
