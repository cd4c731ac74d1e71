namespace InferenceMesh.Gateway.Backends;

/// <summary>An upstream's <c>Retry-After</c> header (seconds or an HTTP date), as a wait from now.</summary>
internal static class RetryAfter
{
    /// <summary>The wait the response asks for (never negative), or null when it names none.</summary>
    public static TimeSpan? Of(HttpResponseMessage response, TimeProvider time)
    {
        if (response.Headers.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        if (retryAfter.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        return retryAfter.Date is { } date ? TimeSpan.FromTicks(Math.Max(0, (date - time.GetUtcNow()).Ticks)) : null;
    }

    /// <summary>Whole seconds for a <c>Retry-After</c> header (rounded up, so a client never retries early).</summary>
    public static int Seconds(TimeSpan wait) => (int)Math.Ceiling(wait.TotalSeconds);
}
