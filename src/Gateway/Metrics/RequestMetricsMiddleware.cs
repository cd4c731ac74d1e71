namespace InferenceMesh.Gateway.Metrics;

/// <summary>Counts every request by its endpoint's route pattern (never the raw path) and final status.</summary>
internal sealed class RequestMetricsMiddleware(RequestDelegate next, GatewayMetrics metrics)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        finally
        {
            var endpoint = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            metrics.RecordRequest(endpoint, status);
        }
    }
}
