using InferenceMesh.ContextStore.Presets;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Context;

/// <summary>
/// Applies a preset named through the model alias <c>"model": "preset:&lt;name&gt;"</c>: its instructions become the
/// first system message, its temperature / top_p / max_tokens fill the fields the request leaves unset (the request's
/// own values win), and the request is routed with the preset's model (a model name, a policy alias or "auto"), so
/// any backend the policy allows may answer, with the plan step's model in the forwarded body. Runs before the
/// conversation stage, so the instructions are not stored as history, and before classification, so they are classified.
/// </summary>
internal sealed class PresetStage(IPresetStore presets) : IChatContextStage
{
    public bool AppliesTo(ChatCompletionRequest request) =>
        request.Model?.StartsWith(PresetDefaults.ModelPrefix, StringComparison.Ordinal) ?? false;

    public ValueTask<ApiError?> PrepareAsync(ChatContextFrame frame, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Prepare(frame));

    private ApiError? Prepare(ChatContextFrame frame)
    {
        if (frame.Request.Model is not { } model || !model.StartsWith(PresetDefaults.ModelPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var name = model[PresetDefaults.ModelPrefix.Length..];
        if (!PresetDefaults.IsValidName(name) || presets.Get(name) is not { } preset)
        {
            return new ApiError(StatusCodes.Status404NotFound,
                $"No preset named '{(PresetDefaults.IsValidName(name) ? name : "…")}'. GET /v1/presets lists them.",
                ApiError.InvalidRequest, "model", "model_not_found");
        }

        var definition = preset.Definition;
        if (definition.Instructions is { Length: > 0 } instructions)
        {
            frame.InsertMessages(0, [new ChatMessage("system", instructions)]);
        }

        frame.ApplyDefaults(definition.Temperature, definition.TopP, definition.MaxTokens);
        frame.SetModel(definition.Model);
        return null;
    }
}
