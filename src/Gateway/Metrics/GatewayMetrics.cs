using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using InferenceMesh.Engine;
using InferenceMesh.ModelCache.Catalog;

namespace InferenceMesh.Gateway.Metrics;

/// <summary>
/// The gateway's counters and histograms, rendered in the Prometheus text format. Labels are the
/// endpoint's route pattern, the status code, the model id and the finish reason: never request text.
/// Thread-safe.
/// </summary>
internal sealed class GatewayMetrics(TimeProvider time)
{
    /// <summary>Seconds; the buckets of time-to-first-token.</summary>
    internal static readonly double[] TimeToFirstTokenBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>Seconds; the buckets of time-per-output-token.</summary>
    internal static readonly double[] TimePerOutputTokenBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

    private readonly ConcurrentDictionary<(string Endpoint, int Status), StrongBox<long>> _requests = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _promptTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox<long>> _completionTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Model, string Finish), StrongBox<long>> _generations = new();
    private readonly ConcurrentDictionary<string, Histogram> _timeToFirstToken = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Histogram> _timePerOutputToken = new(StringComparer.Ordinal);

    public TimeProvider Time => time;

    public void RecordRequest(string endpoint, int status) =>
        Interlocked.Increment(ref _requests.GetOrAdd((endpoint, status), static _ => new StrongBox<long>()).Value);

    public void RecordTokens(string model, int promptTokens, int completionTokens)
    {
        Interlocked.Add(ref _promptTokens.GetOrAdd(model, static _ => new StrongBox<long>()).Value, promptTokens);
        Interlocked.Add(ref _completionTokens.GetOrAdd(model, static _ => new StrongBox<long>()).Value, completionTokens);
    }

    public void RecordGeneration(string model, string finish) =>
        Interlocked.Increment(ref _generations.GetOrAdd((model, finish), static _ => new StrongBox<long>()).Value);

    public void RecordTimeToFirstToken(string model, TimeSpan elapsed) =>
        _timeToFirstToken.GetOrAdd(model, static _ => new Histogram(TimeToFirstTokenBuckets)).Observe(elapsed.TotalSeconds);

    public void RecordTimePerOutputToken(string model, TimeSpan perToken) =>
        _timePerOutputToken.GetOrAdd(model, static _ => new Histogram(TimePerOutputTokenBuckets)).Observe(perToken.TotalSeconds);

    /// <summary>Starts timing one generation; the meter records everything when it ends.</summary>
    public GenerationMeter StartGeneration(string model) => new(this, model, time.GetTimestamp());

    /// <summary>Writes every metric, with the per-model scheduler gauges taken now.</summary>
    public void WriteTo(StringBuilder text, IReadOnlyList<SchedulerStatus> loaded, IModelCatalog? catalog)
    {
        Header(text, "inference_mesh_http_requests_total", "counter", "HTTP requests by endpoint route and status code.");
        foreach (var ((endpoint, status), count) in _requests.OrderBy(p => p.Key.Endpoint, StringComparer.Ordinal).ThenBy(p => p.Key.Status))
        {
            text.Append("inference_mesh_http_requests_total{endpoint=\"").Append(Escape(endpoint))
                .Append("\",status=\"").Append(status.ToString(CultureInfo.InvariantCulture)).Append("\"} ")
                .Append(Volatile.Read(ref count.Value).ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        WritePerModel(text, "inference_mesh_prompt_tokens_total", "counter", "Prompt tokens processed.", _promptTokens);
        WritePerModel(text, "inference_mesh_completion_tokens_total", "counter", "Completion tokens generated.", _completionTokens);

        Header(text, "inference_mesh_generations_total", "counter", "Generations by model and how they ended (stop, length, cancelled, error).");
        foreach (var ((model, finish), count) in _generations.OrderBy(p => p.Key.Model, StringComparer.Ordinal).ThenBy(p => p.Key.Finish, StringComparer.Ordinal))
        {
            text.Append("inference_mesh_generations_total{model=\"").Append(Escape(model)).Append("\",finish=\"").Append(Escape(finish)).Append("\"} ")
                .Append(Volatile.Read(ref count.Value).ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        WriteHistograms(text, "inference_mesh_time_to_first_token_seconds", "Time from enqueueing a generation to its first text.", _timeToFirstToken);
        WriteHistograms(text, "inference_mesh_time_per_output_token_seconds", "Mean time per output token after the first, per generation.", _timePerOutputToken);

        WriteScheduler(text, "inference_mesh_active_sequences", "gauge", "Sequences in a slot (prefill, generating or embedding).", loaded, s => s.ActiveSequences);
        WriteScheduler(text, "inference_mesh_queued_sequences", "gauge", "Sequences waiting for a free slot.", loaded, s => s.QueuedSequences);
        WriteScheduler(text, "inference_mesh_slots", "gauge", "Slots of each loaded model.", loaded, s => s.Slots);
        WriteScheduler(text, "inference_mesh_decode_threads", "gauge", "Threads each decode of a loaded model uses now (1 while the cores are too busy for more).", loaded, s => s.DecodeThreads);
        WriteScheduler(text, "inference_mesh_decode_thread_switches_total", "counter", "Moves of a model's decoding between its configured thread count and one thread.", loaded, s => s.DecodeThreadSwitches);
        WriteScheduler(text, "inference_mesh_lora_adapters_loaded", "gauge", "LoRA adapters in memory per loaded model (docs/lora.md).", loaded, s => s.LoadedAdapters);
        WriteScheduler(text, "inference_mesh_lora_adapter_switches_total", "counter", "Changes of a model context's adapter set between decodes.", loaded, s => s.AdapterSwitches);

        if (catalog is not null)
        {
            Header(text, "inference_mesh_catalog_models", "gauge", "Model files in the models folder by validity.");
            text.Append("inference_mesh_catalog_models{valid=\"true\"} ").Append(catalog.Models.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
            text.Append("inference_mesh_catalog_models{valid=\"false\"} ").Append(catalog.InvalidFiles.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }

    private static void WriteScheduler(StringBuilder text, string name, string type, string help, IReadOnlyList<SchedulerStatus> loaded, Func<SchedulerStatus, long> value)
    {
        Header(text, name, type, help);
        foreach (var status in loaded)
        {
            Gauge(text, name, status.ModelId, value(status));
        }
    }

    private static void WritePerModel(StringBuilder text, string name, string type, string help, ConcurrentDictionary<string, StrongBox<long>> values)
    {
        Header(text, name, type, help);
        foreach (var (model, count) in values.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Gauge(text, name, model, Volatile.Read(ref count.Value));
        }
    }

    private static void WriteHistograms(StringBuilder text, string name, string help, ConcurrentDictionary<string, Histogram> histograms)
    {
        Header(text, name, "histogram", help);
        foreach (var (model, histogram) in histograms.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            histogram.WriteTo(text, name, Escape(model));
        }
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Gauge(StringBuilder text, string name, string model, long value) =>
        text.Append(name).Append("{model=\"").Append(Escape(model)).Append("\"} ").Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');

    /// <summary>Label value escaping of the text format: backslash, double quote and line feed.</summary>
    internal static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length];
        private readonly Lock _lock = new();
        private double _sum;
        private long _count;

        public void Observe(double value)
        {
            lock (_lock)
            {
                for (var i = 0; i < bounds.Length; i++)
                {
                    if (value <= bounds[i])
                    {
                        _counts[i]++;
                    }
                }

                _sum += value;
                _count++;
            }
        }

        public void WriteTo(StringBuilder text, string name, string escapedModel)
        {
            lock (_lock)
            {
                for (var i = 0; i < bounds.Length; i++)
                {
                    text.Append(name).Append("_bucket{model=\"").Append(escapedModel).Append("\",le=\"")
                        .Append(bounds[i].ToString("R", CultureInfo.InvariantCulture)).Append("\"} ")
                        .Append(_counts[i].ToString(CultureInfo.InvariantCulture)).Append('\n');
                }

                text.Append(name).Append("_bucket{model=\"").Append(escapedModel).Append("\",le=\"+Inf\"} ").Append(_count.ToString(CultureInfo.InvariantCulture)).Append('\n');
                text.Append(name).Append("_sum{model=\"").Append(escapedModel).Append("\"} ").Append(_sum.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
                text.Append(name).Append("_count{model=\"").Append(escapedModel).Append("\"} ").Append(_count.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
        }
    }
}

/// <summary>Times one generation (first text, last text) and records its tokens and finish when it ends. Not thread-safe: one reader.</summary>
internal sealed class GenerationMeter(GatewayMetrics metrics, string model, long startTimestamp)
{
    private long _firstTimestamp;
    private long _lastTimestamp;
    private bool _hasText;
    private bool _recorded;

    public void OnText()
    {
        var now = metrics.Time.GetTimestamp();
        if (!_hasText)
        {
            _hasText = true;
            _firstTimestamp = now;
            metrics.RecordTimeToFirstToken(model, metrics.Time.GetElapsedTime(startTimestamp, now));
        }

        _lastTimestamp = now;
    }

    public void Complete(GenerationOutcome outcome)
    {
        if (_recorded)
        {
            return;
        }

        _recorded = true;
        metrics.RecordTokens(model, outcome.PromptTokens, outcome.CompletionTokens);
        var finish = outcome.Failure switch
        {
            null => outcome.FinishReason == FinishReason.Length ? "length" : "stop",
            { Error: EngineError.Cancelled } => "cancelled",
            _ => "error",
        };
        metrics.RecordGeneration(model, finish);
        if (outcome.CompletionTokens > 1 && _hasText && _lastTimestamp > _firstTimestamp)
        {
            var perToken = metrics.Time.GetElapsedTime(_firstTimestamp, _lastTimestamp) / (outcome.CompletionTokens - 1);
            metrics.RecordTimePerOutputToken(model, perToken);
        }
    }

    /// <summary>Records a generation abandoned before its end (client gone, exception).</summary>
    public void Abandon(string finish = "cancelled")
    {
        if (_recorded)
        {
            return;
        }

        _recorded = true;
        metrics.RecordGeneration(model, finish);
    }
}
