using System.Text.Json;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Responses;

/// <summary>
/// The Responses settings that have no chat field of the same name, validated: <c>truncation</c> (disabled, auto),
/// <c>reasoning</c> (<c>effort</c>, <c>summary</c>) and <c>text.verbosity</c>. <c>reasoning.effort</c> and
/// <c>text.verbosity</c> travel as chat's <c>reasoning_effort</c> and <c>verbosity</c>: an OpenAI-compatible upstream reads
/// them; the local model, Anthropic and mesh peers do not (the response then echoes <c>reasoning</c> as null, as OpenAI does
/// for a model that does not reason). <c>reasoning.summary</c> has no chat counterpart: accepted and echoed, and no reasoning
/// summary is ever returned (chat completions gives none). An invalid value is a 400 naming the field.
/// </summary>
internal sealed record ResponseSettings(bool TruncateAuto, string? Effort, string? Summary, string? Verbosity)
{
    /// <summary>OpenAI's reasoning efforts (not every model takes every one: the upstream says so).</summary>
    public static readonly string[] Efforts = ["none", "minimal", "low", "medium", "high", "xhigh"];

    public static readonly string[] Summaries = ["auto", "concise", "detailed"];

    public static readonly string[] Verbosities = ["low", "medium", "high"];

    /// <summary>What OpenAI echoes when <c>text.verbosity</c> is not sent.</summary>
    public const string DefaultVerbosity = "medium";

    /// <summary>The echo of <c>truncation</c>.</summary>
    public string Truncation => TruncateAuto ? "auto" : "disabled";

    /// <summary>The echo of <c>reasoning</c> when the settings reach a model that reads them.</summary>
    public ResponseReasoning Reasoning => new(Effort, Summary);

    public static ApiResult<ResponseSettings> Read(ResponseRequest request)
    {
        if (request.Truncation is not (null or "disabled" or "auto"))
        {
            return ApiErrors.InvalidParameter("truncation", "'truncation' must be 'disabled' (the default: a conversation longer than the model's context is refused) or 'auto' (the oldest input items are dropped until it fits).");
        }

        string? effort = null, summary = null;
        if (request.Reasoning is { ValueKind: not JsonValueKind.Null } reasoning)
        {
            if (reasoning.ValueKind != JsonValueKind.Object)
            {
                return ApiErrors.InvalidParameter("reasoning", "'reasoning' must be an object: {\"effort\": ..., \"summary\": ...}.");
            }

            foreach (var field in reasoning.EnumerateObject())
            {
                ApiResult<string?> value = field.Name switch
                {
                    "effort" => OneOf(field.Value, "reasoning.effort", Efforts),
                    "summary" or "generate_summary" => OneOf(field.Value, $"reasoning.{field.Name}", Summaries), // generate_summary: OpenAI's older name
                    _ => ApiErrors.InvalidParameter($"reasoning.{field.Name}", $"'reasoning' has no field '{field.Name}': it takes 'effort' and 'summary'."),
                };
                if (value.Error is { } error) return error;
                if (field.Name == "effort") effort = value.Value;
                else summary ??= value.Value;
            }
        }

        string? verbosity = null;
        if (request.Text is { ValueKind: JsonValueKind.Object } text && text.TryGetProperty("verbosity", out var verbosityElement))
        {
            var value = OneOf(verbosityElement, "text.verbosity", Verbosities);
            if (value.Error is { } error) return error;
            verbosity = value.Value;
        }

        return new ResponseSettings(request.Truncation == "auto", effort, summary, verbosity);
    }

    /// <summary>Null, or a string among <paramref name="allowed"/>.</summary>
    private static ApiResult<string?> OneOf(JsonElement value, string param, string[] allowed) =>
        value.ValueKind == JsonValueKind.Null || value.ValueKind == JsonValueKind.String && allowed.Contains(value.GetString())
            ? new ApiResult<string?>(value.ValueKind == JsonValueKind.Null ? null : value.GetString(), null)
            : ApiErrors.InvalidParameter(param, $"'{param}' must be one of {string.Join(", ", allowed)}.");
}
