using System.Text.Json.Serialization;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Health;
using InferenceMesh.Router.Policies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>GET /health: liveness plus what an operator needs: the models folder, valid and invalid files, loaded models and their slots.</summary>
internal static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", Get);
        return app;
    }

    public static JsonOk<HealthResponse> Get(
        [FromServices] IModelCatalog catalog, [FromServices] IModelHost host, [FromServices] IRoutingConfigProvider routing, [FromServices] IBackendHealth health,
        [FromServices] IServiceProvider services)
    {
        catalog.Refresh();
        var snapshot = routing.Current;
        return new JsonOk<HealthResponse>(new HealthResponse(
            "ok",
            catalog.Directory,
            [.. catalog.Models.Select(m => new HealthModel(m.Id, m.SizeBytes, m.Architecture, m.Quantization, m.TrainContextLength, m.HasChatTemplate))],
            [.. catalog.InvalidFiles.Select(f => new HealthInvalidFile(f.FileName, f.Reason))],
            [.. host.GetLoadedStatus().Select(ToWire)],
            [.. snapshot.Backends.Select(b => ToWire(b, health.Get(b.Name)))],
            new HealthRouting(snapshot.Policy.Name, snapshot.Version, [.. routing.LastErrors.Select(e => e.ToString())]),
            Mesh.MeshHealth.Build(services)),
            HealthJsonContext.Default.HealthResponse);
    }

    private static HealthLoadedModel ToWire(SchedulerStatus status) => new(
        status.ModelId, status.Slots, status.SlotContextLength, status.ActiveSequences, status.QueuedSequences,
        [.. status.SlotStates.Select(s => new HealthSlot(s.Slot, StateName(s.State), s.TokensInContext))],
        status.DecodeThreads);

    private static HealthBackend ToWire(BackendConfig backend, BackendHealthSnapshot live) => new(
        backend.Name,
        backend.Kind.Name(),
        live.Circuit switch { CircuitState.Open => "open", CircuitState.HalfOpen => "half-open", _ => "closed" },
        live.ErrorRate,
        live.Samples,
        live.Failures,
        live.MeanLatency?.TotalMilliseconds,
        live.LastFailure?.ToString());

    public static string StateName(SlotState state) => state switch
    {
        SlotState.Idle => "idle",
        SlotState.Prefill => "prefill",
        SlotState.Generating => "generating",
        SlotState.Embedding => "embedding",
        _ => "unknown",
    };
}

public sealed record HealthResponse(
    string Status,
    string ModelsDirectory,
    IReadOnlyList<HealthModel> Models,
    IReadOnlyList<HealthInvalidFile> InvalidFiles,
    IReadOnlyList<HealthLoadedModel> Loaded,
    IReadOnlyList<HealthBackend> Backends,
    HealthRouting Routing,
    Mesh.MeshHealthWire? Mesh = null);

/// <summary>A backend's live health over the rolling window: circuit "closed", "half-open" or "open"; mean latency of successes (time to first byte).</summary>
public sealed record HealthBackend(string Name, string Type, string Circuit, double ErrorRate, int Samples, int Failures, double? MeanLatencyMs, string? LastFailure);

/// <summary>The policy in force, its version (+1 per reload) and the errors of the last rejected reload.</summary>
public sealed record HealthRouting(string Policy, long Version, IReadOnlyList<string> LastReloadErrors);

public sealed record HealthModel(string Id, long SizeBytes, string Architecture, string? Quantization, int? TrainContextLength, bool HasChatTemplate);

public sealed record HealthInvalidFile(string File, string Reason);

/// <summary>A loaded model; DecodeThreads is the thread count its decoding runs at now (1 while the cores are too busy).</summary>
public sealed record HealthLoadedModel(string Model, int Slots, int SlotContextLength, int ActiveSequences, int QueuedSequences, IReadOnlyList<HealthSlot> SlotStates, int DecodeThreads);

/// <summary>One slot: "idle", "prefill", "generating" or "embedding".</summary>
public sealed record HealthSlot(int Slot, string State, int TokensInContext);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(HealthResponse))]
public sealed partial class HealthJsonContext : JsonSerializerContext;
