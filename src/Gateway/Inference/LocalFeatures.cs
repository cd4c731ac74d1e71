using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Inference;

/// <summary>
/// OpenAI fields the local engine cannot honour (legacy functions, audio, a JSON schema beyond
/// <see cref="JsonSchemaGrammar"/>). Ignoring them would change the meaning of the answer (a client waiting for a function
/// call gets free text), so the local step refuses them with a 400 <c>unsupported_parameter</c> naming the field.
/// OpenAI-compatible backends receive them as sent; the Anthropic backend translates tools and refuses the rest
/// (<see cref="RefuseUnsupportedBesideTools"/>). Their neutral values (<c>tool_choice: "none"</c>, null) pass. JSON
/// output (<c>response_format</c> json_object and json_schema) is honoured with a grammar (<see cref="ResponseGrammar"/>),
/// log probabilities by the engine (<see cref="LogProbs"/>; a malformed request for them is refused here too).
/// </summary>
public static class LocalFeatures
{
    /// <summary>What the local step refuses: malformed tools (<see cref="LocalTools"/> serves well-formed ones) and the rest below.</summary>
    public static ApiError? RefuseUnsupported(ChatCompletionRequest request) => LocalTools.For(request).Error ?? RefuseUnsupportedBesideTools(request);

    /// <summary>
    /// What <see cref="RefuseUnsupported(ChatCompletionRequest)"/> refuses besides <c>tools</c> and <c>tool_choice</c>: legacy
    /// functions, a malformed <c>response_format</c>, logprobs, audio and non-text modalities. A backend that translates tools
    /// (Anthropic) refuses these.
    /// </summary>
    public static ApiError? RefuseUnsupportedBesideTools(ChatCompletionRequest request)
    {
        var fields = request.Extensions;
        if (fields is null || fields.Count == 0)
        {
            return null;
        }

        var functionCallNone = IsString(fields, "function_call", "none");
        if (!functionCallNone && IsNonEmptyArray(fields, "functions"))
        {
            return ApiErrors.UnsupportedParameter("functions", "'functions' is not supported by the local model: it cannot call functions.");
        }

        if (fields.TryGetValue("function_call", out var functionCall) && functionCall.ValueKind != JsonValueKind.Null
            && !functionCallNone && !IsString(fields, "function_call", "auto"))
        {
            return ApiErrors.UnsupportedParameter("function_call", "'function_call' other than \"none\" or \"auto\" is not supported by the local model: it cannot call functions.");
        }

        if (ResponseGrammar(request).Error is { } format)
        {
            return format;
        }

        if (LogProbs.Requested(request).Error is { } logprobs)
        {
            return logprobs;
        }

        if (fields.TryGetValue("audio", out var audio) && audio.ValueKind != JsonValueKind.Null)
        {
            return ApiErrors.UnsupportedParameter("audio", "'audio' output is not supported by the local model: it answers in text only.");
        }

        if (fields.TryGetValue("modalities", out var modalities) && modalities.ValueKind == JsonValueKind.Array
            && modalities.EnumerateArray().Any(m => !(m.ValueKind == JsonValueKind.String && m.GetString() == "text")))
        {
            return ApiErrors.UnsupportedParameter("modalities", "'modalities' other than [\"text\"] is not supported by the local model: it answers in text only.");
        }

        return null;
    }

    /// <summary>The legacy completion fields the local engine cannot honour (<c>echo</c> it does honour).</summary>
    public static ApiError? RefuseUnsupported(CompletionRequest request)
    {
        if (request.BestOf is { } bestOf && bestOf != 1)
        {
            return ApiErrors.UnsupportedParameter("best_of", "Only best_of=1 is supported.");
        }

        if (LogProbs.Requested(request).Error is { } logprobs)
        {
            return logprobs;
        }

        return request.Suffix is { Length: > 0 }
            ? ApiErrors.UnsupportedParameter("suffix", "'suffix' is not supported by the local model: it continues the prompt and cannot fill in before a suffix.")
            : null;
    }

    /// <summary>
    /// The grammar <c>response_format</c> asks for: null for none or <c>{"type":"text"}</c>,
    /// <see cref="Grammars.JsonObject"/> for <c>json_object</c> (and a <c>json_schema</c> without a schema), the
    /// schema's own grammar (<see cref="JsonSchemaGrammar"/>) for <c>json_schema</c>; an error naming the field when
    /// the format is malformed or its schema asks for what the grammar cannot guarantee.
    /// </summary>
    public static ApiResult<string?> ResponseGrammar(ChatCompletionRequest request) =>
        request.Extensions is { } fields && fields.TryGetValue("response_format", out var format)
            ? FormatGrammar(format, "response_format", "json_schema")
            : new ApiResult<string?>(null, null);

    /// <summary>
    /// The grammar an output format asks for (chat's <c>response_format</c>, the Responses API's <c>text.format</c>):
    /// null for none or <c>{"type":"text"}</c>, <see cref="Grammars.JsonObject"/> for <c>json_object</c> (and a
    /// <c>json_schema</c> without a schema), the schema's own grammar for <c>json_schema</c>; an error naming the field
    /// (under <paramref name="param"/>) when the format is malformed or its schema asks for what the grammar cannot guarantee.
    /// </summary>
    /// <param name="schemaHolder">The member of the format holding <c>schema</c> (chat: <c>json_schema</c>), or null when the format holds it itself (Responses).</param>
    internal static ApiResult<string?> FormatGrammar(JsonElement format, string param, string? schemaHolder)
    {
        if (format.ValueKind == JsonValueKind.Null)
        {
            return new ApiResult<string?>(null, null);
        }

        if (format.ValueKind != JsonValueKind.Object || !format.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return ApiErrors.InvalidParameter(param, $"'{param}' must be an object with a string 'type': text, json_object or json_schema.");
        }

        switch (type.GetString())
        {
            case "text":
                return new ApiResult<string?>(null, null);
            case "json_object":
                return Grammars.JsonObject;
            case "json_schema":
                var declared = format;
                var holderParam = param;
                if (schemaHolder is not null)
                {
                    holderParam = $"{param}.{schemaHolder}";
                    if (!format.TryGetProperty(schemaHolder, out declared) || declared.ValueKind != JsonValueKind.Object)
                    {
                        return ApiErrors.InvalidParameter(holderParam, $"'{holderParam}' must be an object with the schema under 'schema'.");
                    }
                }

                if (!declared.TryGetProperty("schema", out var schema) || schema.ValueKind == JsonValueKind.Null)
                {
                    return Grammars.JsonObject;
                }

                var (grammar, error) = JsonSchemaGrammar.Convert(schema);
                if (grammar is null)
                {
                    return ApiErrors.UnsupportedParameter($"{holderParam}.schema",
                        $"The local model cannot guarantee this schema: {error} (its answers are constrained by a grammar; see the gateway README for what a schema may use).");
                }

                return grammar;
            default:
                return ApiErrors.UnsupportedParameter($"{param}.type", $"'{param}.type' must be text, json_object or json_schema.");
        }
    }

    /// <summary>
    /// Why the local model may not finish a remote answer cut mid-way, or null: what it cannot honour at all, a JSON
    /// response format (the cut text is not inside the grammar's start, so the rest would be unconstrained), and tools
    /// (the remote part is in the backend's tool format, not in the local one's).
    /// </summary>
    public static ApiError? RefuseContinuation(ChatCompletionRequest request) =>
        RefuseUnsupported(request)
        ?? (ResponseGrammar(request).Value is null ? null : ApiErrors.UnsupportedParameter("response_format", "A JSON answer cut mid-way cannot be continued under its grammar."))
        ?? (LocalTools.For(request).Value is null ? null : ApiErrors.UnsupportedParameter("tools", "An answer to a request with tools cut mid-way cannot be continued by the local model."));

    private static bool IsString(Dictionary<string, JsonElement> fields, string name, string value) =>
        fields.TryGetValue(name, out var element) && element.ValueKind == JsonValueKind.String && element.GetString() == value;

    private static bool IsNonEmptyArray(Dictionary<string, JsonElement> fields, string name) =>
        fields.TryGetValue(name, out var element) && element.ValueKind == JsonValueKind.Array && element.GetArrayLength() > 0;
}
