using InferenceMesh.ContextStore.Presets;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Context;

/// <summary>
/// Preset endpoints (ours): <c>POST /v1/presets</c> (create; 409 when the name exists), <c>GET /v1/presets</c>,
/// <c>GET /v1/presets/{name}</c>, <c>POST /v1/presets/{name}</c> (replace the definition), <c>DELETE /v1/presets/{name}</c>.
/// A preset is applied with <c>"model": "preset:&lt;name&gt;"</c> (see <see cref="PresetStage"/>).
/// </summary>
internal static class PresetsApi
{
    public static IEndpointRouteBuilder MapPresetsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/presets");
        group.MapPost("", CreateAsync);
        group.MapGet("", List);
        group.MapGet("/{name}", Get);
        group.MapPost("/{name}", UpdateAsync);
        group.MapDelete("/{name}", Delete);
        return app;
    }

    public static async Task<IResult> CreateAsync(HttpContext http, [FromServices] IPresetStore presets)
    {
        var body = await ContextApiInputs.ReadBodyAsync(http.Request, ContextJsonContext.Default.PresetRequest, null, http.RequestAborted);
        if (body.Error is { } bodyError) return bodyError;
        if (body.Value!.Name is null) return ApiErrors.MissingParameter("name");
        if (!PresetDefaults.IsValidName(body.Value.Name)) return InvalidName("name");
        var definition = Definition(body.Value);
        if (definition.Error is { } definitionError) return definitionError;

        return presets.Create(body.Value.Name, definition.Value!) is { } created
            ? Ok(created)
            : new ApiError(StatusCodes.Status409Conflict, $"A preset named '{body.Value.Name}' exists; POST /v1/presets/{body.Value.Name} replaces it.",
                ApiError.InvalidRequest, "name", "preset_exists");
    }

    public static IResult List([FromServices] IPresetStore presets)
    {
        var all = presets.List();
        return new JsonOk<ListWire<PresetWire>>(
            new ListWire<PresetWire>([.. all.Select(ToWire)], all.Count > 0 ? all[0].Name : null, all.Count > 0 ? all[^1].Name : null, HasMore: false),
            ContextJsonContext.Default.ListWirePresetWire);
    }

    public static IResult Get(string name, [FromServices] IPresetStore presets)
    {
        if (!PresetDefaults.IsValidName(name)) return InvalidName("name");
        return presets.Get(name) is { } preset ? Ok(preset) : NotFound(name);
    }

    public static async Task<IResult> UpdateAsync(HttpContext http, string name, [FromServices] IPresetStore presets)
    {
        if (!PresetDefaults.IsValidName(name)) return InvalidName("name");
        var body = await ContextApiInputs.ReadBodyAsync(http.Request, ContextJsonContext.Default.PresetRequest, null, http.RequestAborted);
        if (body.Error is { } bodyError) return bodyError;
        if (body.Value!.Name is { } bodyName && bodyName != name)
        {
            // Taking the path's name would leave the client believing the preset was renamed.
            return ApiErrors.InvalidParameter("name",
                "'name' in the body differs from the preset in the path: a preset cannot be renamed (create the new name, then delete the old one).");
        }

        var definition = Definition(body.Value);
        if (definition.Error is { } definitionError) return definitionError;
        return presets.Update(name, definition.Value!) is { } updated ? Ok(updated) : NotFound(name);
    }

    public static IResult Delete(string name, [FromServices] IPresetStore presets)
    {
        if (!PresetDefaults.IsValidName(name)) return InvalidName("name");
        return presets.Delete(name)
            ? new JsonOk<PresetDeletedWire>(new PresetDeletedWire(name), ContextJsonContext.Default.PresetDeletedWire)
            : NotFound(name);
    }

    private static ApiResult<PresetDefinition> Definition(PresetRequest request)
    {
        var model = request.Model ?? "auto";
        if (model.Length == 0 || model.StartsWith(PresetDefaults.ModelPrefix, StringComparison.Ordinal))
        {
            return ApiErrors.InvalidParameter("model", "'model' must name a model, an alias or 'auto' (not another preset).");
        }

        if (request.Instructions is { Length: > PresetDefaults.MaxInstructionsLength })
        {
            return ApiErrors.InvalidParameter("instructions", $"'instructions' must be at most {PresetDefaults.MaxInstructionsLength} characters.");
        }

        if (request.Temperature is { } t && !(t >= 0 && t <= 2)) return ApiErrors.InvalidParameter("temperature", "'temperature' must be from 0 to 2.");
        if (request.TopP is { } p && !(p >= 0 && p <= 1)) return ApiErrors.InvalidParameter("top_p", "'top_p' must be from 0 to 1.");
        if (request.MaxTokens is < 1) return ApiErrors.InvalidParameter("max_tokens", "'max_tokens' must be at least 1.");
        var metadata = ContextApiInputs.Metadata(request.Metadata);
        if (metadata.Error is { } metadataError) return metadataError;

        return new PresetDefinition(request.Instructions, model, request.Temperature, request.TopP, request.MaxTokens, metadata.Value!);
    }

    private static ApiError InvalidName(string param) =>
        ApiErrors.InvalidParameter(param, $"A preset name is 1 to {PresetDefaults.MaxNameLength} letters, digits, '.', '_' or '-', starting with a letter or digit.");

    private static ApiError NotFound(string name) =>
        new(StatusCodes.Status404NotFound, $"No preset named '{name}'.", ApiError.InvalidRequest, "name", "preset_not_found");

    private static JsonOk<PresetWire> Ok(Preset preset) => new(ToWire(preset), ContextJsonContext.Default.PresetWire);

    private static PresetWire ToWire(Preset p) => new(
        p.Name, p.Definition.Instructions, p.Definition.Model, p.Definition.Temperature, p.Definition.TopP, p.Definition.MaxTokens,
        p.Definition.Metadata, p.CreatedAt.ToUnixTimeSeconds(), p.UpdatedAt.ToUnixTimeSeconds());
}
