using System.Diagnostics;
using System.Text.Json;

namespace InferenceMesh.Bench.LocalInference;

/// <summary>How much to measure. Every loop is bounded by these counts.</summary>
internal sealed record MeasureOptions
{
    public required Uri BaseUrl { get; init; }
    public required string Server { get; init; }
    public required string Model { get; init; }
    public required int Pid { get; init; }
    public required IReadOnlyList<int> ForbiddenTokens { get; init; }
    public int Threads { get; init; }

    /// <summary>Tokens per generation in the throughput runs. The default value is 128.</summary>
    public int MaxTokens { get; init; } = 128;

    /// <summary>Repetitions of the single-stream run. The default value is 5.</summary>
    public int SingleRuns { get; init; } = 5;

    /// <summary>Concurrent streams in the aggregate run (the servers get this many slots). The default value is 8.</summary>
    public int Concurrency { get; init; } = 8;

    /// <summary>Repetitions of the concurrent run. The default value is 3.</summary>
    public int ConcurrentRuns { get; init; } = 3;

    /// <summary>Time-to-first-token samples. The default value is 10.</summary>
    public int TtftRuns { get; init; } = 10;

    /// <summary>Tokens generated per time-to-first-token sample. The default value is 4.</summary>
    public int TtftMaxTokens { get; init; } = 4;

    /// <summary>How long to wait for /health to answer 200. The default value is 300 seconds.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(300);
}

/// <summary>One server on one model: absolute numbers, medians of the runs, and the raw runs.</summary>
internal sealed record ServerResult
{
    public required string Model { get; init; }
    public required string Server { get; init; }
    public int Threads { get; init; }
    public int Concurrency { get; init; }
    public int MaxTokens { get; init; }
    public double? LoadSeconds { get; set; }
    public double? SingleTokensPerSecond { get; set; }
    public double? SingleDecodeTokensPerSecond { get; set; }
    public double? AggregateTokensPerSecond { get; set; }
    public double? TtftP50Ms { get; set; }
    public double? TtftP90Ms { get; set; }
    public long? RssAfterLoadBytes { get; set; }
    public long? RssAfterRunsBytes { get; set; }
    public double[] SingleRuns { get; set; } = [];
    public double[] AggregateRuns { get; set; } = [];
    public double[] TtftRunsMs { get; set; } = [];
    public List<string> Warnings { get; init; } = [];
    public string? Error { get; set; }
}

/// <summary>Runs the scenarios against one running server.</summary>
internal static class Measurement
{
    // Distinct openings so that no request can reuse another's cached prompt beyond BOS.
    private static readonly string[] Prompts =
    [
        "Once upon a time",
        "Tom had a big red ball",
        "The sun was bright and warm",
        "Lily liked to sing songs",
        "One day a little dog",
        "Sam and his mom went",
        "There was a tiny bird",
        "A girl named Sue found",
        "In the park there was",
        "The cat saw a box",
        "Ben wanted to play outside",
        "Mia had a new toy",
    ];

    public static async Task<ServerResult> RunAsync(MeasureOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        var result = new ServerResult
        {
            Model = options.Model,
            Server = options.Server,
            Threads = options.Threads,
            Concurrency = options.Concurrency,
            MaxTokens = options.MaxTokens,
        };
        try
        {
            await MeasureAsync(options, result, log, cancellationToken);
        }
        catch (Exception e) when (e is BenchmarkException or HttpRequestException or OperationCanceledException or JsonException or IOException)
        {
            result.Error = $"{e.GetType().Name}: {e.Message}{(e.GetBaseException() is { } inner && inner != e ? $" ({inner.GetType().Name}: {inner.Message})" : "")}";
            log.WriteLine($"  FAILED: {result.Error}");
        }

        result.RssAfterRunsBytes ??= ProcessMemory.ResidentBytesWithChildren(options.Pid);
        return result;
    }

    private static async Task MeasureAsync(MeasureOptions options, ServerResult result, TextWriter log, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var probe = new CompletionClient(options.BaseUrl, options.Model, options.ForbiddenTokens);
        await WaitReadyAsync(probe.Http, options, cancellationToken);
        result.LoadSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var modelId = await FirstModelIdAsync(probe.Http, options.BaseUrl, cancellationToken) ?? options.Model;
        log.WriteLine($"  ready after {result.LoadSeconds:F1} s, model id '{modelId}', {options.ForbiddenTokens.Count} tokens forbidden");

        using var client = new CompletionClient(options.BaseUrl, modelId, options.ForbiddenTokens);

        // Warm-up: both code paths (one stream, all slots), short generations; results discarded.
        for (var i = 0; i < 2; i++)
        {
            await client.StreamAsync(Prompts[i], 32, cancellationToken);
        }

        await ConcurrentAsync(client, options.Concurrency, 32, cancellationToken);
        result.RssAfterLoadBytes = ProcessMemory.ResidentBytesWithChildren(options.Pid);

        var single = new List<StreamResult>();
        for (var i = 0; i < options.SingleRuns; i++)
        {
            var r = await client.StreamAsync(Prompts[i % Prompts.Length], options.MaxTokens, cancellationToken);
            CheckCount(r, options.MaxTokens, result);
            single.Add(r);
        }

        result.SingleRuns = [.. single.Select(r => Math.Round(r.EndToEndTokensPerSecond, 2))];
        result.SingleTokensPerSecond = Median(single.Select(r => r.EndToEndTokensPerSecond));
        result.SingleDecodeTokensPerSecond = Median(single.Select(r => r.DecodeTokensPerSecond));
        log.WriteLine($"  1 stream: {result.SingleTokensPerSecond:F1} tok/s (decode {result.SingleDecodeTokensPerSecond:F1}) runs [{string.Join(", ", result.SingleRuns)}]");

        var aggregate = new List<double>();
        for (var i = 0; i < options.ConcurrentRuns; i++)
        {
            var (rate, streams) = await ConcurrentAsync(client, options.Concurrency, options.MaxTokens, cancellationToken);
            foreach (var s in streams)
            {
                CheckCount(s, options.MaxTokens, result);
            }

            aggregate.Add(rate);
        }

        result.AggregateRuns = [.. aggregate.Select(a => Math.Round(a, 2))];
        result.AggregateTokensPerSecond = Median(aggregate);
        log.WriteLine($"  {options.Concurrency} streams: {result.AggregateTokensPerSecond:F1} tok/s aggregate, runs [{string.Join(", ", result.AggregateRuns)}]");

        var ttft = new List<double>();
        for (var i = 0; i < options.TtftRuns; i++)
        {
            var r = await client.StreamAsync(Prompts[i % Prompts.Length], options.TtftMaxTokens, cancellationToken);
            ttft.Add(r.TimeToFirstTokenMs);
        }

        result.TtftRunsMs = [.. ttft.Select(t => Math.Round(t, 3))];
        result.TtftP50Ms = Percentile(ttft, 0.5);
        result.TtftP90Ms = Percentile(ttft, 0.9);
        log.WriteLine($"  TTFT p50 {result.TtftP50Ms:F2} ms, p90 {result.TtftP90Ms:F2} ms");

        if (client.Resends > 0)
        {
            var warning = $"{client.Resends} request(s) sent again: the server closed a kept-alive connection without answering";
            result.Warnings.Add(warning);
            log.WriteLine($"  {warning}");
        }

        result.RssAfterRunsBytes = ProcessMemory.ResidentBytesWithChildren(options.Pid);
        log.WriteLine($"  RSS after load {Mib(result.RssAfterLoadBytes)} MiB, after runs {Mib(result.RssAfterRunsBytes)} MiB");
    }

    /// <summary>Starts <paramref name="streams"/> generations at once; aggregate rate = all tokens / first send to last token.</summary>
    private static async Task<(double Rate, StreamResult[] Streams)> ConcurrentAsync(
        CompletionClient client, int streams, int maxTokens, CancellationToken cancellationToken)
    {
        var tasks = new Task<StreamResult>[streams];
        for (var i = 0; i < streams; i++)
        {
            tasks[i] = client.StreamAsync(Prompts[i % Prompts.Length], maxTokens, cancellationToken);
        }

        var results = await Task.WhenAll(tasks);
        var start = results.Min(r => r.SendTimestamp);
        var end = results.Max(r => r.LastTokenTimestamp);
        return (results.Sum(r => r.Tokens) / Stopwatch.GetElapsedTime(start, end).TotalSeconds, results);
    }

    private static void CheckCount(StreamResult r, int expected, ServerResult result)
    {
        if (r.Tokens != expected || (r.UsageTokens is { } usage && usage != expected))
        {
            var warning = $"expected {expected} tokens, streamed {r.Tokens} events (usage {r.UsageTokens?.ToString() ?? "n/a"}, finish {r.FinishReason ?? "n/a"})";
            if (!result.Warnings.Contains(warning))
            {
                result.Warnings.Add(warning);
            }
        }
    }

    private static async Task WaitReadyAsync(HttpClient http, MeasureOptions options, CancellationToken cancellationToken)
    {
        var health = new Uri(options.BaseUrl, "health");
        var deadline = Stopwatch.GetTimestamp() + (long)(options.ReadyTimeout.TotalSeconds * Stopwatch.Frequency);
        string last = "no answer";
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (!ProcessMemory.IsAlive(options.Pid))
            {
                throw new BenchmarkException($"the server process {options.Pid} exited before it was ready ({last})");
            }

            try
            {
                using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                probe.CancelAfter(TimeSpan.FromSeconds(5));
                using var response = await http.GetAsync(health, probe.Token);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                last = $"/health returned {(int)response.StatusCode}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = "/health timed out";
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new BenchmarkException($"not ready after {options.ReadyTimeout.TotalSeconds:F0} s ({last})");
    }

    private static async Task<string?> FirstModelIdAsync(HttpClient http, Uri baseUrl, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        using var response = await http.GetAsync(new Uri(baseUrl, "v1/models"), timeout.Token);
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(timeout.Token));
        return doc.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array
               && data.GetArrayLength() > 0 && data[0].TryGetProperty("id", out var id)
            ? id.GetString()
            : null;
    }

    public static double? Median(IEnumerable<double> values) => Percentile(values.ToList(), 0.5);

    /// <summary>Linear interpolation between closest ranks; null for no values.</summary>
    public static double? Percentile(IReadOnlyList<double> values, double p)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }

        var rank = p * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public static string Mib(long? bytes) => bytes is { } b ? (b / 1048576.0).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : "n/a";
}
