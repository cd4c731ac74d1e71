using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Context;
using InferenceMesh.Gateway.Routing;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>
/// POST /v1/chat/completions: classify, route, then execute the plan (local engine or remote backends with
/// failover). Every response names the backend that answered in <c>X-InferenceMesh-Backend</c> ("none" when
/// no backend was called), set before the body starts.
/// </summary>
internal static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/chat/completions", CreateAsync);
        return app;
    }

    /// <returns>
    /// An <see cref="Errors.ApiError"/> (invalid request, empty plan, every backend failed), the local engine's
    /// result (JSON or <see cref="Streaming.GenerationStreamResult"/>), or an empty result when a remote backend
    /// wrote the response itself.
    /// </returns>
    public static async Task<IResult> CreateAsync(HttpContext http, [FromServices] ChatRouting routing, [FromServices] ChatExecutor executor, [FromServices] ILogger<ObservedChatResult> logger)
    {
        BackendHeader.Set(http, BackendDefaults.NoBackend);
        var routed = await routing.ReadAndRouteAsync(http);
        if (routed.Error is { } error) return error;

        var plan = routed.Value!.Plan;
        if (plan.IsEmpty) return ChatRouting.EmptyPlanError(plan); // nothing is sent anywhere

        // The context stages' answer observers (conversation history) run once the whole answer was written.
        return ObservedChatResult.Wrap(await executor.ExecuteAsync(routed.Value), routed.Value, logger);
    }
}
