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

    /// <summary>Blocking reads on a thread per stream (true) or .NET's async I/O (false, the default).</summary>
    public bool BlockingClient { get; init; }

    /// <summary>Start-to-ready time measured by the caller (servers started one after the other, each timed until its
    /// /health answered); null to time it here, from this program's first probe.</summary>
    public double? ReadySeconds { get; init; }

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

/// <summary>Runs the scenarios against running servers, interleaved.</summary>
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

    /// <summary>
    /// Measures every server in <paramref name="servers"/> (all running at once, on the same model): each is made ready
    /// and warmed up, then every sample is taken on each server in turn, the order reversed for every other sample
    /// (A B, B A, ...). A machine whose speed drifts over seconds (shared cores, frequency) then moves both servers'
    /// samples alike instead of deciding the ratio. One server is the plain sequential case.
    /// </summary>
    public static async Task<IReadOnlyList<ServerResult>> RunAsync(
        IReadOnlyList<MeasureOptions> servers, TextWriter log, CancellationToken cancellationToken)
    {
        var states = servers.Select(o => new ServerState(o, new ServerResult
        {
            Model = o.Model,
            Server = o.Server,
            Threads = o.Threads,
            Concurrency = o.Concurrency,
            MaxTokens = o.MaxTokens,
        })).ToList();

        foreach (var state in states)
        {
            await GuardAsync(state, log, () => PrepareAsync(state, log, cancellationToken));
        }

        var first = servers[0];
        await InterleavedAsync(states, first.SingleRuns, log, async state =>
        {
            var r = await state.Client!.StreamAsync(Prompts[state.Single.Count % Prompts.Length], state.Options.MaxTokens, cancellationToken);
            CheckCount(r, state.Options.MaxTokens, state.Result);
            state.Single.Add(r);
        });

        foreach (var state in Live(states))
        {
            var result = state.Result;
            result.SingleRuns = [.. state.Single.Select(r => Math.Round(r.EndToEndTokensPerSecond, 2))];
            result.SingleTokensPerSecond = Median(state.Single.Select(r => r.EndToEndTokensPerSecond));
            result.SingleDecodeTokensPerSecond = Median(state.Single.Select(r => r.DecodeTokensPerSecond));
            log.WriteLine($"  {state.Options.Server}: 1 stream: {result.SingleTokensPerSecond:F1} tok/s (decode {result.SingleDecodeTokensPerSecond:F1}) runs [{string.Join(", ", result.SingleRuns)}]");
        }

        await InterleavedAsync(states, first.ConcurrentRuns, log, async state =>
        {
            var (rate, streams) = await ConcurrentAsync(state.Client!, state.Options.Concurrency, state.Options.MaxTokens, cancellationToken);
            foreach (var s in streams)
            {
                CheckCount(s, state.Options.MaxTokens, state.Result);
            }

            state.Aggregate.Add(rate);
        });

        foreach (var state in Live(states))
        {
            var result = state.Result;
            result.AggregateRuns = [.. state.Aggregate.Select(a => Math.Round(a, 2))];
            result.AggregateTokensPerSecond = Median(state.Aggregate);
            log.WriteLine($"  {state.Options.Server}: {state.Options.Concurrency} streams: {result.AggregateTokensPerSecond:F1} tok/s aggregate, runs [{string.Join(", ", result.AggregateRuns)}]");
        }

        await InterleavedAsync(states, first.TtftRuns, log, async state =>
        {
            var r = await state.Client!.StreamAsync(Prompts[state.Ttft.Count % Prompts.Length], state.Options.TtftMaxTokens, cancellationToken);
            state.Ttft.Add(r.TimeToFirstTokenMs);
        });

        foreach (var state in states)
        {
            var result = state.Result;
            if (result.Error is null)
            {
                result.TtftRunsMs = [.. state.Ttft.Select(t => Math.Round(t, 3))];
                result.TtftP50Ms = Percentile(state.Ttft, 0.5);
                result.TtftP90Ms = Percentile(state.Ttft, 0.9);
                log.WriteLine($"  {state.Options.Server}: TTFT p50 {result.TtftP50Ms:F2} ms, p90 {result.TtftP90Ms:F2} ms");
            }

            if (state.Client is { Resends: > 0 } client)
            {
                var warning = $"{client.Resends} request(s) sent again: the server closed a kept-alive connection without answering";
                result.Warnings.Add(warning);
                log.WriteLine($"  {state.Options.Server}: {warning}");
            }

            result.RssAfterRunsBytes ??= ProcessMemory.ResidentBytesWithChildren(state.Options.Pid);
            log.WriteLine($"  {state.Options.Server}: RSS after load {Mib(result.RssAfterLoadBytes)} MiB, after runs {Mib(result.RssAfterRunsBytes)} MiB");
            state.Client?.Dispose();
        }

        return [.. states.Select(s => s.Result)];
    }

    /// <summary>One server under measurement: its options, result, client and the samples so far.</summary>
    private sealed class ServerState(MeasureOptions options, ServerResult result)
    {
        public MeasureOptions Options { get; } = options;

        public ServerResult Result { get; } = result;

        public CompletionClient? Client { get; set; }

        public List<StreamResult> Single { get; } = [];

        public List<double> Aggregate { get; } = [];

        public List<double> Ttft { get; } = [];
    }

    private static IEnumerable<ServerState> Live(IEnumerable<ServerState> states) => states.Where(s => s.Result.Error is null);

    /// <summary>Takes <paramref name="samples"/> samples of every live server, one server after the other, the order
    /// reversed for every other sample. A server that fails is recorded as failed and left out from then on.</summary>
    private static async Task InterleavedAsync(List<ServerState> states, int samples, TextWriter log, Func<ServerState, Task> sample)
    {
        for (var i = 0; i < samples; i++)
        {
            var order = i % 2 == 0 ? states : Enumerable.Reverse(states);
            foreach (var state in order.ToList())
            {
                if (state.Result.Error is null)
                {
                    await GuardAsync(state, log, () => sample(state));
                }
            }
        }
    }

    private static async Task GuardAsync(ServerState state, TextWriter log, Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception e) when (e is BenchmarkException or HttpRequestException or OperationCanceledException or JsonException or IOException)
        {
            state.Result.Error = $"{e.GetType().Name}: {e.Message}{(e.GetBaseException() is { } inner && inner != e ? $" ({inner.GetType().Name}: {inner.Message})" : "")}";
            log.WriteLine($"  {state.Options.Server} FAILED: {state.Result.Error}");
        }
    }

    /// <summary>Waits for the server, finds its model id and warms up both code paths (one stream, all slots).</summary>
    private static async Task PrepareAsync(ServerState state, TextWriter log, CancellationToken cancellationToken)
    {
        var options = state.Options;
        var started = Stopwatch.GetTimestamp();
        using var probe = new CompletionClient(options.BaseUrl, options.Model, options.ForbiddenTokens);
        await WaitReadyAsync(probe.Http, options, cancellationToken);
        state.Result.LoadSeconds = options.ReadySeconds ?? Stopwatch.GetElapsedTime(started).TotalSeconds;
        var modelId = await FirstModelIdAsync(probe.Http, options.BaseUrl, cancellationToken) ?? options.Model;
        log.WriteLine($"  {options.Server}: ready after {state.Result.LoadSeconds:F1} s, model id '{modelId}', {options.ForbiddenTokens.Count} tokens forbidden");

        state.Client = new CompletionClient(options.BaseUrl, modelId, options.ForbiddenTokens, options.BlockingClient);

        // Warm-up: both code paths (one stream, all slots), short generations; results discarded.
        for (var i = 0; i < 2; i++)
        {
            await state.Client.StreamAsync(Prompts[i], 32, cancellationToken);
        }

        await ConcurrentAsync(state.Client, options.Concurrency, 32, cancellationToken);

        // Then single streams of the measured length: a .NET server compiles its hot methods again, optimised, a
        // moment after they got hot (tiered compilation with dynamic PGO), on a background thread that competes with
        // the decode threads. After the short warm-up above that fell into the first measured run (about half the
        // speed of the runs after it on the 134M models; with DOTNET_TieredCompilation=0 or DOTNET_TieredPGO=0 the
        // first run was as fast as the rest), a start-up cost, not the steady state measured here.
        for (var i = 0; i < 2; i++)
        {
            await state.Client.StreamAsync(Prompts[i + 2], options.MaxTokens, cancellationToken);
        }

        state.Result.RssAfterLoadBytes = ProcessMemory.ResidentBytesWithChildren(options.Pid);
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
