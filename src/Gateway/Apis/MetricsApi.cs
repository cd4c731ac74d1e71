using System.Text;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Metrics;
using InferenceMesh.ModelCache.Catalog;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Apis;

/// <summary>GET /metrics in the Prometheus text format (version 0.0.4).</summary>
internal static class MetricsApi
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", Get);
        return app;
    }

    public static ContentHttpResult Get([FromServices] GatewayMetrics metrics, [FromServices] IModelHost host, [FromServices] IModelCatalog catalog)
    {
        var text = new StringBuilder(4096);
        metrics.WriteTo(text, host.GetLoadedStatus(), catalog);
        return TypedResults.Text(text.ToString(), ContentType, Encoding.UTF8);
    }
}
