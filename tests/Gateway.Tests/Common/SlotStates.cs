using System.Diagnostics;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Metrics;

namespace InferenceMesh.Gateway.Tests.Common;

/// <summary>Waits on the gateway's own state (/health and /metrics), not on time, for a cancelled generation to free its slot.</summary>
internal static class SlotStates
{
    /// <summary>
    /// Reads /health and /metrics until every slot of the first loaded model is idle and one stories260K generation was
    /// counted as cancelled (a bounded loop of reads: fails after 30 s); returns the metrics read last.
    /// </summary>
    public static async Task<Dictionary<string, double>> WaitIdleAfterCancelAsync(TestEnvironment environment)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            using var health = JsonDocument.Parse(await environment.Http.GetStringAsync("/health"));
            var slots = health.RootElement.GetProperty("loaded")[0].GetProperty("slot_states").EnumerateArray().Select(s => s.GetProperty("state").GetString()).ToArray();
            var metrics = MetricsTests.Parse(await environment.Http.GetStringAsync("/metrics"));
            var cancelled = metrics.GetValueOrDefault("inference_mesh_generations_total{model=\"stories260K\",finish=\"cancelled\"}");
            if (slots.All(s => s == "idle") && cancelled == 1)
            {
                return metrics;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"Slot states {string.Join(",", slots)}, cancelled {cancelled} after 30 s.");
        }
    }
}
