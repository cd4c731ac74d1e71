using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Gateway.Lora;

/// <summary>Cuts a route plan to its local step: a request that uses LoRA adapters (which exist only here) never goes remote.</summary>
internal static class LoraRouting
{
    public const string Reason = "LoRA adapters exist only on this machine: a request that uses them is served by the local engine only";

    public static RoutePlan LocalOnly(RoutePlan plan)
    {
        var remote = plan.Steps.Where(s => s.Kind != BackendKind.Local).ToList();
        if (remote.Count == 0)
        {
            return plan;
        }

        var local = plan.Steps.Where(s => s.Kind == BackendKind.Local).ToList();
        return plan with
        {
            Steps = local,
            Exclusions = [.. plan.Exclusions, .. remote.Select(s => new RouteExclusion(s.Backend, ExclusionCode.ModelNotOffered, Reason) { Score = s.Score, Breakdown = s.Breakdown })],
            EmptyReason = local.Count == 0 ? Reason + ", and the local engine cannot serve it" : plan.EmptyReason,
        };
    }
}
