using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Gateway.Lora;
using InferenceMesh.Gateway.Metrics;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.ModelCache.Catalog;

namespace InferenceMesh.Gateway.Inference;

/// <summary>What the OpenAI endpoints share: reading the body, finding and loading the model, starting a generation.</summary>
internal sealed partial class InferenceService(
    IModelCatalog catalog,
    IModelHost host,
    GatewayMetrics metrics,
    GatewayOptions options,
    TimeProvider time,
    ILogger<InferenceService> logger)
{
    private readonly LoraRequests _lora = new(catalog);

    public TimeProvider Time => time;

    public GatewayMetrics Metrics => metrics;

    public ILogger Logger => logger;

    /// <summary>
    /// The first step of the endpoints only the local engine serves (completions, responses, embeddings): the backend
    /// header says "none" (no backend reached yet; the endpoint sets "local" once it gets to the engine), then the body is read.
    /// </summary>
    public static ValueTask<ApiResult<T>> ReadLocalRequestAsync<T>(HttpContext http, JsonTypeInfo<T> typeInfo)
        where T : class
    {
        Routing.BackendHeader.Set(http, Backends.BackendDefaults.NoBackend);
        return ReadBodyAsync(http.Request, typeInfo, http.RequestAborted);
    }

    /// <summary>Reads a JSON body once; malformed JSON is a 400 naming where it broke (never echoing the text).</summary>
    public static async ValueTask<ApiResult<T>> ReadBodyAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
        where T : class
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        bytes = bytes[JsonText.ByteOrderMarkLength(bytes)..];
        if (JsonText.RefuseUnreadableText(bytes) is { } refused)
        {
            return refused;
        }

        try
        {
            var value = JsonSerializer.Deserialize(bytes, typeInfo);
            return value is null ? ApiErrors.InvalidJson(null) : value;
        }
        catch (JsonException ex)
        {
            var path = ex.Path;
            return ApiErrors.InvalidJson(path is null or "$" ? null : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path);
        }
    }

    /// <summary>Finds the model in the catalog (404 when absent) and loads it (mapped failure when it cannot be).</summary>
    public async ValueTask<ApiResult<ILoadedModel>> ResolveModelAsync(string? modelId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(modelId))
        {
            return ApiErrors.MissingParameter("model");
        }

        if (catalog.Find(modelId) is not { } entry)
        {
            Log.ModelNotFound(logger);
            return ApiErrors.ModelNotFound();
        }

        var loaded = await host.GetOrLoadAsync(new ModelSource(entry.Id, entry.Path, entry.SizeBytes), cancellationToken);
        if (!loaded.Succeeded)
        {
            Log.ModelLoadFailed(logger, entry.Id, loaded.Failure!.Error);
            return Map(loaded.Failure, "model");
        }

        return new ApiResult<ILoadedModel>(loaded.Value, null);
    }

    /// <summary>
    /// Like <see cref="ResolveModelAsync"/> for a generation that may use LoRA adapters: the model may be an adapter alias
    /// (<c>BASE+ADAPTER</c>) and <paramref name="loraField"/> (the request's <c>lora</c>) may add adapters. Unknown adapters
    /// are 404s, adapters of another base model and bad scales 400s. Adapters no longer offered for the model are retired
    /// in the engine (freed once no running request uses them).
    /// </summary>
    public async ValueTask<ApiResult<(ILoadedModel Model, IReadOnlyList<AdapterUse> Adapters)>> ResolveWithAdaptersAsync(
        string? modelId, JsonElement? loraField, CancellationToken cancellationToken)
    {
        var resolved = _lora.Resolve(modelId, loraField);
        if (resolved.Error is { } error)
        {
            Log.AdapterRequestRefused(logger, error.Code ?? "invalid");
            return error;
        }

        var (entry, adapters, offered) = resolved.Value!;
        var loaded = await ResolveModelAsync(entry.Id, cancellationToken);
        if (loaded.Error is { } loadError)
        {
            return loadError;
        }

        _ = loaded.Value!.RetireAdaptersExceptAsync(offered);
        return (loaded.Value!, adapters);
    }

    /// <summary>
    /// <see cref="ResolveWithAdaptersAsync"/> for an endpoint only the local engine serves, with the request's <c>lora</c>
    /// field: from here on every answer, errors included, is the local backend's (<c>X-InferenceMesh-Backend: local</c>);
    /// a request without a model never reaches the engine and keeps "none".
    /// </summary>
    public ValueTask<ApiResult<(ILoadedModel Model, IReadOnlyList<AdapterUse> Adapters)>> ResolveLocalAsync(
        HttpContext http, string? modelId, IReadOnlyDictionary<string, JsonElement>? extensions)
    {
        if (string.IsNullOrEmpty(modelId))
        {
            return ValueTask.FromResult<ApiResult<(ILoadedModel, IReadOnlyList<AdapterUse>)>>(ApiErrors.MissingParameter("model")); // refused before the engine: still "none"
        }

        Routing.BackendHeader.Set(http, Router.Configuration.RouterDefaults.LocalBackendName);
        return ResolveWithAdaptersAsync(modelId, LoraRequests.FieldOf(extensions), http.RequestAborted);
    }

    /// <summary>
    /// The model of a llama-server endpoint (<c>/tokenize</c>, <c>/detokenize</c>, <c>/apply-template</c>). llama-server
    /// serves one model, so <c>model</c> may be left out when the models folder lists exactly one; with several (or none)
    /// it is a 400 naming it. An adapter alias (<c>BASE+ADAPTER</c>) is its base model: adapters change neither the
    /// vocabulary nor the template. From here on the answer is the local backend's (<c>X-InferenceMesh-Backend: local</c>).
    /// </summary>
    public async ValueTask<ApiResult<ILoadedModel>> ResolveServedModelAsync(HttpContext http, string? modelId)
    {
        if (string.IsNullOrEmpty(modelId))
        {
            catalog.Refresh();
            var models = catalog.Models;
            if (models.Count != 1)
            {
                return ApiErrors.MissingParameter("model") with
                {
                    Message = models.Count == 0
                        ? "'model' is required: the models folder lists no model."
                        : $"'model' is required: {models.Count} models are served (GET /v1/models lists them).",
                };
            }

            modelId = models[0].Id;
        }

        Routing.BackendHeader.Set(http, Router.Configuration.RouterDefaults.LocalBackendName);
        var resolved = await ResolveWithAdaptersAsync(modelId, null, http.RequestAborted);
        return resolved.Error is { } error ? error : new ApiResult<ILoadedModel>(resolved.Value.Model, null);
    }

    /// <summary>Starts a generation; the engine's fail-fast errors (prompt too long, overload) come back before any byte is sent.</summary>
    public async ValueTask<ApiResult<RunningGeneration>> StartAsync(ILoadedModel model, GenerationRequest request, string promptParam, CancellationToken cancellationToken)
    {
        var meter = metrics.StartGeneration(model.Id);
        var started = await model.StartGenerationAsync(request, cancellationToken);
        if (!started.Succeeded)
        {
            Log.GenerationRejected(logger, model.Id, started.Failure!.Error);
            return Map(started.Failure, promptParam);
        }

        Log.GenerationStarted(logger, model.Id, started.Value!.PromptTokens);
        return new RunningGeneration(started.Value!, meter, model.Id);
    }

    public ApiError Map(EngineFailure failure, string promptParam) =>
        EngineFailureMapping.ToApiError(failure, promptParam, options.RetryAfterSeconds);

    /// <summary>An OpenAI-style response id: prefix plus 24 random hex digits.</summary>
    public static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..24];

    private static partial class Log
    {
        [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Requested model is not in the catalog")]
        public static partial void ModelNotFound(ILogger logger);

        [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "Model {ModelId} failed to load: {Error}")]
        public static partial void ModelLoadFailed(ILogger logger, string modelId, EngineError error);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Generation on {ModelId} rejected: {Error}")]
        public static partial void GenerationRejected(ILogger logger, string modelId, EngineError error);

        [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "Generation on {ModelId} started with {PromptTokens} prompt tokens")]
        public static partial void GenerationStarted(ILogger logger, string modelId, int promptTokens);

        [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "LoRA adapter request refused: {Code}")]
        public static partial void AdapterRequestRefused(ILogger logger, string code);
    }
}
