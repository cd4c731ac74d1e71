using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.Gateway.Lora;

/// <summary>One entry of the request field <c>"lora": [{"name": "x", "scale": 0.8}]</c>; a null scale means the adapter's default.</summary>
internal sealed record LoraRequestItem(string Name, float? Scale);

/// <summary>A local model with the adapters to apply, resolved from the model name (maybe an alias) and the <c>lora</c> field.</summary>
internal sealed record LoraModel(CatalogEntry Base, IReadOnlyList<AdapterUse> Adapters, IReadOnlyList<AdapterSource> Offered);

/// <summary>
/// LoRA adapters on the request path (see docs/lora.md). Two ways to ask for adapters: the extension field
/// <c>lora</c> (chat and completions) and the model alias <c>BASE+ADAPTER</c> (the adapter's default scale). Adapters
/// exist only on this machine, so a request that uses either is served by the local engine only: the router's plan is
/// cut to its local step and the field is never forwarded. Reads the catalog live, so adapters added or removed while
/// running count from the next request. Thread-safe.
/// </summary>
internal sealed class LoraRequests(IModelCatalog catalog)
{
    /// <summary>The extension field of chat completions and completions requests.</summary>
    public const string Field = "lora";

    /// <summary>
    /// Whether <paramref name="model"/> has the form of an adapter alias: <c>BASE+NAME</c> where BASE is a local model and
    /// the whole name is not itself a model. Unknown adapters count too (they answer 404 locally, never go remote).
    /// </summary>
    public bool IsAlias(string? model) => SplitAlias(model) is not null;

    /// <summary>The base model and the offered adapter an alias <c>BASE+NAME</c> stands for; null when it stands for none.</summary>
    public (CatalogEntry Base, AdapterEntry Adapter)? FindAlias(string model) =>
        SplitAlias(model) is var (baseModel, name) && catalog.FindAdapter(name) is { } adapter && adapter.BaseModel == baseModel.Id
            ? (baseModel, adapter)
            : null;

    /// <summary>Whether the request must stay on the local engine: it names adapters by field or by alias.</summary>
    public bool NeedsLocal(string? model, IReadOnlyDictionary<string, JsonElement>? extensions) =>
        (extensions?.ContainsKey(Field) ?? false) || IsAlias(model);

    /// <summary>
    /// The base model and adapters for a local request: <paramref name="model"/> is a model id or an alias; the
    /// <paramref name="field"/> (the request's <c>lora</c>) adds adapters. Errors are 400/404 in OpenAI's shape, naming
    /// <c>model</c> or <c>lora</c>.
    /// </summary>
    public ApiResult<LoraModel> Resolve(string? model, JsonElement? field)
    {
        if (string.IsNullOrEmpty(model))
        {
            return ApiErrors.MissingParameter("model");
        }

        var requested = Parse(field);
        if (requested.Error is { } parseError)
        {
            return parseError;
        }

        var items = new List<(LoraRequestItem Item, string Param)>();
        CatalogEntry? baseModel;
        if (catalog.Find(model) is { } direct)
        {
            baseModel = direct;
        }
        else if (SplitAlias(model) is var (baseEntry, adapterName))
        {
            baseModel = baseEntry;
            items.Add((new LoraRequestItem(adapterName, null), "model"));
        }
        else
        {
            return ApiErrors.ModelNotFound();
        }

        items.AddRange(requested.Value!.Select(i => (i, Field)));
        var uses = new List<AdapterUse>(items.Count);
        foreach (var (item, param) in items)
        {
            if (catalog.FindAdapter(item.Name) is not { } adapter)
            {
                return new ApiError(StatusCodes.Status404NotFound,
                    $"No LoRA adapter named '{item.Name}' is offered. GET /v1/models lists the adapters (as BASE+ADAPTER).",
                    ApiError.InvalidRequest, param, "adapter_not_found");
            }

            if (!string.Equals(adapter.BaseModel, baseModel.Id, StringComparison.Ordinal))
            {
                return new ApiError(StatusCodes.Status400BadRequest,
                    $"LoRA adapter '{adapter.Name}' is for model '{adapter.BaseModel}', not '{baseModel.Id}'.",
                    ApiError.InvalidRequest, param, "adapter_base_mismatch");
            }

            if (uses.Any(u => u.Source.Name == adapter.Name))
            {
                return ApiErrors.InvalidParameter(Field, $"LoRA adapter '{adapter.Name}' is named more than once.");
            }

            uses.Add(new AdapterUse(SourceOf(adapter), item.Scale ?? adapter.DefaultScale));
        }

        if (uses.Count > AdapterLimits.MaxPerRequest)
        {
            return ApiErrors.InvalidParameter(Field, $"At most {AdapterLimits.MaxPerRequest} LoRA adapters may be applied to one request.");
        }

        var offered = catalog.Adapters.Where(a => a.BaseModel == baseModel.Id).Select(SourceOf).ToList();
        return new LoraModel(baseModel, uses, offered);
    }

    /// <summary>The request's <c>lora</c> field from its extension fields, or null when absent.</summary>
    public static JsonElement? FieldOf(IReadOnlyDictionary<string, JsonElement>? extensions) =>
        extensions is not null && extensions.TryGetValue(Field, out var value) ? value : null;

    /// <summary>The engine's identity of an adapter: name, blob path, size and digest (a replaced file is another adapter).</summary>
    public static AdapterSource SourceOf(AdapterEntry adapter) => new(adapter.Name, adapter.Path, adapter.SizeBytes, adapter.Sha256);

    /// <summary>Parses and range-checks the <c>lora</c> field; absent or null is no adapters.</summary>
    public static ApiResult<IReadOnlyList<LoraRequestItem>> Parse(JsonElement? field)
    {
        if (field is not { } element || element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return new ApiResult<IReadOnlyList<LoraRequestItem>>([], null);
        }

        const string shape = "'lora' must be an array of objects like {\"name\": \"adapter\", \"scale\": 0.8} (scale optional).";
        if (element.ValueKind != JsonValueKind.Array)
        {
            return ApiErrors.InvalidParameter(Field, shape);
        }

        if (element.GetArrayLength() > AdapterLimits.MaxPerRequest)
        {
            return ApiErrors.InvalidParameter(Field, $"At most {AdapterLimits.MaxPerRequest} LoRA adapters may be applied to one request.");
        }

        var items = new List<LoraRequestItem>();
        foreach (var entry in element.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object
                || !entry.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String
                || entry.EnumerateObject().Any(p => p.Name is not ("name" or "scale")))
            {
                return ApiErrors.InvalidParameter(Field, shape);
            }

            var adapterName = name.GetString()!;
            if (AdapterName.Validate(adapterName) is not null)
            {
                return ApiErrors.InvalidParameter(Field, "'lora' names must be adapter names (GET /v1/models lists them).");
            }

            float? scale = null;
            if (entry.TryGetProperty("scale", out var scaleElement) && scaleElement.ValueKind != JsonValueKind.Null)
            {
                if (scaleElement.ValueKind != JsonValueKind.Number || !scaleElement.TryGetDouble(out var value)
                    || !(value >= AdapterLimits.MinScale && value <= AdapterLimits.MaxScale))
                {
                    return ApiErrors.InvalidParameter(Field, $"'lora' scales must be numbers from {AdapterLimits.MinScale} to {AdapterLimits.MaxScale}.");
                }

                scale = (float)value;
            }

            items.Add(new LoraRequestItem(adapterName, scale));
        }

        return items;
    }

    private (CatalogEntry Base, string Adapter)? SplitAlias(string? model)
    {
        // The separator first: a name without one (every plain chat request) is no alias, and the catalog's Find checks
        // the models folder on disk.
        var separator = model?.LastIndexOf(AdapterName.AliasSeparator) ?? -1;
        if (separator <= 0 || separator == model!.Length - 1 || catalog.Find(model) is not null)
        {
            return null;
        }

        return catalog.Find(model[..separator]) is { } baseModel ? (baseModel, model[(separator + 1)..]) : null;
    }
}
