// Proxy-path benchmark driver (bench/run-proxy.sh starts the servers; this only measures).
// The same OpenAI chat-completions requests go to every target: "direct" (the loopback upstream itself) and the
// proxies in front of the same upstream. Added latency = the proxy's percentile − direct's percentile.
//
//   proxy-bench --target NAME=URL [--header NAME=Key:Value]... [--expect-backend NAME=backend] [settings] [--out FILE]
// URL is the OpenAI base URL (".../v1"). The first target must be "direct". See bench/README.md ("Proxy path").
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InferenceMesh.Bench.Proxy;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var settings = Settings.Parse(args);
if (settings is null)
{
    return 2;
}

ThreadPool.SetMinThreads(Math.Max(16, Environment.ProcessorCount), Math.Max(16, Environment.ProcessorCount));
var bench = new Bench(settings);
try
{
    await bench.CheckAsync();
    var report = await bench.RunAsync();
    Console.WriteLine(report);
    if (settings.OutFile is { } file)
    {
        await File.WriteAllTextAsync(file, report);
    }

    return 0;
}
catch (BenchException ex)
{
    Console.Error.WriteLine($"proxy-bench: {ex.Message}");
    return 1;
}

namespace InferenceMesh.Bench.Proxy
{
    internal sealed class BenchException(string message) : Exception(message);

    internal sealed record Target(string Name, string BaseUrl, List<KeyValuePair<string, string>> Headers, string? ExpectBackend);

    internal sealed class Settings
    {
        public List<Target> Targets { get; } = [];
        public int Warmup { get; set; } = 300;
        public double WarmupSeconds { get; set; } = 1;
        public double InitialWarmupSeconds { get; set; } = 20;
        public int Requests1 { get; set; } = 2000;
        public int Requests16 { get; set; } = 4000;
        public int Concurrency { get; set; } = 16;
        public int Streams { get; set; } = 40;
        public int Chunks { get; set; } = 64;
        public int Rounds { get; set; } = 2;
        public int[] Rates { get; set; } = [50, 100, 250, 500, 1000, 1500, 2000, 3000, 4000, 6000];
        public double RateSeconds { get; set; } = 3;
        public double RateWarmupSeconds { get; set; } = 0.5;
        public double P99LimitMs { get; set; } = 10;
        public int MaxConnections { get; set; } = 256;
        public string? OutFile { get; set; }
        public string Title { get; set; } = "Proxy path";
        public List<string> Notes { get; } = [];

        public static Settings? Parse(string[] args)
        {
            var s = new Settings();
            var headers = new Dictionary<string, List<KeyValuePair<string, string>>>(StringComparer.Ordinal);
            var expect = new Dictionary<string, string>(StringComparer.Ordinal);
            var targets = new List<(string Name, string Url)>();
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                try
                {
                    switch (args[i])
                    {
                        case "--target":
                            {
                                var (name, url) = Split(Next(), '=');
                                targets.Add((name, url.TrimEnd('/')));
                                break;
                            }

                        case "--header":
                            {
                                var (name, header) = Split(Next(), '=');
                                var (key, value) = Split(header, ':');
                                if (!headers.TryGetValue(name, out var list)) headers[name] = list = [];
                                list.Add(new(key.Trim(), value.Trim()));
                                break;
                            }

                        case "--expect-backend":
                            {
                                var (name, backend) = Split(Next(), '=');
                                expect[name] = backend;
                                break;
                            }

                        case "--warmup": s.Warmup = int.Parse(Next()); break;
                        case "--warmup-seconds": s.WarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                        case "--initial-warmup-seconds": s.InitialWarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                        case "--requests-c1": s.Requests1 = int.Parse(Next()); break;
                        case "--requests-cn": s.Requests16 = int.Parse(Next()); break;
                        case "--concurrency": s.Concurrency = int.Parse(Next()); break;
                        case "--streams": s.Streams = int.Parse(Next()); break;
                        case "--chunks": s.Chunks = int.Parse(Next()); break;
                        case "--rounds": s.Rounds = int.Parse(Next()); break;
                        case "--rates": s.Rates = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse)]; break;
                        case "--rate-seconds": s.RateSeconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                        case "--rate-warmup-seconds": s.RateWarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                        case "--p99-limit-ms": s.P99LimitMs = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                        case "--max-connections": s.MaxConnections = int.Parse(Next()); break;
                        case "--out": s.OutFile = Next(); break;
                        case "--title": s.Title = Next(); break;
                        case "--note": s.Notes.Add(Next()); break;
                        default: throw new ArgumentException($"unknown argument {args[i]}");
                    }
                }
                catch (Exception ex) when (ex is ArgumentException or FormatException)
                {
                    Console.Error.WriteLine($"proxy-bench: {ex.Message}");
                    return null;
                }
            }

            if (targets.Count == 0 || targets[0].Name != "direct")
            {
                Console.Error.WriteLine("proxy-bench: the first --target must be direct=URL (the upstream itself)");
                return null;
            }

            foreach (var (name, url) in targets)
            {
                s.Targets.Add(new Target(name, url, headers.GetValueOrDefault(name) ?? [], expect.GetValueOrDefault(name)));
            }

            return s;
        }

        private static (string, string) Split(string text, char separator)
        {
            var at = text.IndexOf(separator);
            if (at <= 0) throw new ArgumentException($"'{text}' must be NAME{separator}VALUE");
            return (text[..at], text[(at + 1)..]);
        }
    }

    internal sealed class Samples
    {
        private readonly List<double> _values = [];
        private double[]? _sorted;

        public int Errors { get; set; }

        public int Count => _values.Count;

        public void Add(double value) { _values.Add(value); _sorted = null; }

        public void AddRange(IEnumerable<double> values) { _values.AddRange(values); _sorted = null; }

        public double Mean => _values.Count == 0 ? double.NaN : _values.Average();

        /// <summary>Nearest-rank percentile of the raw samples.</summary>
        public double P(double percentile)
        {
            if (_values.Count == 0) return double.NaN;
            _sorted ??= [.. _values.Order()];
            var rank = (int)Math.Ceiling(percentile / 100.0 * _sorted.Length);
            return _sorted[Math.Clamp(rank - 1, 0, _sorted.Length - 1)];
        }
    }

    internal sealed record RateStep(int Rate, int Sent, int Errors, double P50, double P99, double P99FromSchedule, double AchievedRate, bool Passed, string? Why);

    internal sealed class TargetResults
    {
        public Samples C1 { get; } = new();
        public Samples Cn { get; } = new();
        public double CnSeconds { get; set; }
        public Samples Ttft { get; } = new();
        public Samples Gap { get; } = new();
        public Samples Total { get; } = new();
        public List<RateStep> Steps { get; } = [];
        public double CnThroughput => Cn.Count / CnSeconds;
    }

    internal sealed class Bench
    {
        private static readonly string Prompt = "Write a short poem about the sea at night.";
        private readonly Settings _s;
        private readonly Dictionary<string, HttpClient> _clients = [];
        private readonly Dictionary<string, TargetResults> _results = [];
        private readonly byte[] _plainBody;
        private readonly byte[] _streamBody;
        private readonly string _loadAtStart = LoadAverage();

        public Bench(Settings settings)
        {
            _s = settings;
            _plainBody = Body(stream: false);
            _streamBody = Body(stream: true);
            foreach (var t in _s.Targets)
            {
                _clients[t.Name] = new HttpClient(new SocketsHttpHandler
                {
                    UseProxy = false,
                    AllowAutoRedirect = false,
                    AutomaticDecompression = DecompressionMethods.None,
                    UseCookies = false,
                    MaxConnectionsPerServer = _s.MaxConnections,
                    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
                    PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    ActivityHeadersPropagator = null,
                })
                {
                    DefaultRequestVersion = HttpVersion.Version11,
                    DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
                    Timeout = TimeSpan.FromSeconds(30),
                };
                _results[t.Name] = new TargetResults();
            }
        }

        private static byte[] Body(bool stream) => JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["model"] = "auto",
            ["messages"] = new[] { new Dictionary<string, string> { ["role"] = "user", ["content"] = Prompt } },
            ["max_tokens"] = 64,
            ["stream"] = stream,
        });

        private static string LoadAverage()
        {
            try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
            catch (IOException) { return "n/a"; }
        }

        private static void Log(string message) => Console.Error.WriteLine($"[proxy-bench {DateTime.UtcNow:HH:mm:ss}] {message}");

        private static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

        private HttpRequestMessage Request(Target t, bool stream)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, t.BaseUrl + "/chat/completions")
            {
                Version = HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new ByteArrayContent(stream ? _streamBody : _plainBody),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "bench-key");
            foreach (var (key, value) in t.Headers)
            {
                request.Headers.TryAddWithoutValidation(key, value);
            }

            return request;
        }

        /// <summary>One non-streamed request, whole body read; false on any error.</summary>
        private async Task<bool> PlainAsync(Target t)
        {
            try
            {
                using var request = Request(t, stream: false);
                using var response = await _clients[t.Name].SendAsync(request, HttpCompletionOption.ResponseContentRead);
                var body = await response.Content.ReadAsByteArrayAsync();
                return response.StatusCode == HttpStatusCode.OK && body.Length > 0;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                return false;
            }
        }

        /// <summary>One stream: send → first event, and the mean gap between events; null on any error or a wrong count.</summary>
        private async Task<(double Ttft, double Gap, double Total, int Events)?> StreamAsync(Target t)
        {
            try
            {
                var start = Stopwatch.GetTimestamp();
                using var request = Request(t, stream: true);
                using var response = await _clients[t.Name].SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                if (response.StatusCode != HttpStatusCode.OK) return null;
                await using var body = await response.Content.ReadAsStreamAsync();
                using var reader = new StreamReader(body, Encoding.UTF8, false, 4096);
                long first = 0, last = 0;
                var events = 0;
                var done = false;
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
                    var data = line.AsSpan(5).Trim();
                    if (data.SequenceEqual("[DONE]")) { done = true; break; }
                    if (!data.Contains("\"content\"", StringComparison.Ordinal)) continue; // usage or other non-content events
                    var now = Stopwatch.GetTimestamp();
                    if (events == 0) first = now;
                    last = now;
                    events++;
                }

                if (!done || events < 2) return null;
                return (Ms(start, first), Ms(first, last) / (events - 1), Ms(start, last), events);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                return null;
            }
        }

        public async Task CheckAsync()
        {
            foreach (var t in _s.Targets)
            {
                using (var request = Request(t, stream: false))
                using (var response = await _clients[t.Name].SendAsync(request))
                {
                    var text = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        throw new BenchException($"{t.Name}: HTTP {(int)response.StatusCode}: {Truncate(text)}");
                    }

                    using var doc = JsonDocument.Parse(text);
                    if (!doc.RootElement.TryGetProperty("choices", out var choices) || choices.GetArrayLength() != 1)
                    {
                        throw new BenchException($"{t.Name}: not a chat.completion: {Truncate(text)}");
                    }

                    if (t.ExpectBackend is { } expected)
                    {
                        var actual = response.Headers.TryGetValues("X-InferenceMesh-Backend", out var values) ? string.Join(',', values) : "(none)";
                        if (!string.Equals(actual, expected, StringComparison.Ordinal))
                        {
                            throw new BenchException($"{t.Name}: X-InferenceMesh-Backend is {actual}, expected {expected}");
                        }
                    }
                }

                var stream = await StreamAsync(t) ?? throw new BenchException($"{t.Name}: the stream failed or did not end with [DONE]");
                if (stream.Events != _s.Chunks)
                {
                    throw new BenchException($"{t.Name}: the stream had {stream.Events} content events, expected {_s.Chunks}");
                }

                Log($"{t.Name}: ok (non-streamed and a {stream.Events}-event stream{(t.ExpectBackend is null ? "" : $", backend {t.ExpectBackend}")})");
            }
        }

        private static string Truncate(string text) => text.Length > 300 ? text[..300] + "…" : text;

        /// <summary>Closed loop: <paramref name="concurrency"/> workers send <paramref name="total"/> requests back to back.</summary>
        private async Task<(List<double> Latencies, int Errors, double Seconds)> ClosedLoopAsync(Target t, int concurrency, int total)
        {
            var latencies = new double[total];
            var ok = new bool[total];
            var next = -1;
            var started = Stopwatch.GetTimestamp();
            var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < total)
                {
                    var start = Stopwatch.GetTimestamp();
                    ok[i] = await PlainAsync(t);
                    latencies[i] = Ms(start, Stopwatch.GetTimestamp());
                }
            }));
            await Task.WhenAll(workers);
            var seconds = Ms(started, Stopwatch.GetTimestamp()) / 1000.0;
            var good = new List<double>(total);
            var errors = 0;
            for (var i = 0; i < total; i++)
            {
                if (ok[i]) good.Add(latencies[i]); else errors++;
            }

            return (good, errors, seconds);
        }

        /// <summary>Warm-up before a closed-loop measurement: at least <c>Warmup</c> requests and <c>WarmupSeconds</c> (JIT tiering, connections), at most 10 batches.</summary>
        private async Task WarmupAsync(Target t, int concurrency)
        {
            var started = Stopwatch.GetTimestamp();
            for (var batch = 0; batch < 10; batch++)
            {
                await ClosedLoopAsync(t, concurrency, Math.Max(_s.Warmup, concurrency));
                if (Ms(started, Stopwatch.GetTimestamp()) >= _s.WarmupSeconds * 1000) break;
            }
        }

        /// <summary>
        /// Open loop at a fixed offered rate: requests start on schedule whatever the earlier ones are doing (no coordinated
        /// omission). Latency is counted from the request's actual start (so the dispatcher's timer granularity, ~1 ms and
        /// worse on a loaded machine, does not count against the server; waiting for a pooled connection does count);
        /// the step also fails when the dispatcher could not keep the rate. p99 from the scheduled time is kept for information.
        /// </summary>
        private async Task<RateStep> OpenLoopAsync(Target t, int rate, double seconds)
        {
            var total = Math.Max(1, (int)(rate * seconds));
            var latencies = new double[total];
            var fromSchedule = new double[total];
            var ok = new bool[total];
            var tasks = new Task[total];
            var ticksPerRequest = Stopwatch.Frequency / (double)rate;
            var maxInFlight = Math.Max(512, rate); // more than a second of backlog: the step has failed
            var inFlight = 0;
            var sent = 0;
            var started = Stopwatch.GetTimestamp();
            string? abort = null;
            while (sent < total)
            {
                var due = Math.Min(total, (int)((Stopwatch.GetTimestamp() - started) / ticksPerRequest) + 1);
                for (; sent < due; sent++)
                {
                    var i = sent;
                    var scheduled = started + (long)(i * ticksPerRequest);
                    Interlocked.Increment(ref inFlight);
                    tasks[i] = Send();

                    async Task Send()
                    {
                        var start = Stopwatch.GetTimestamp();
                        ok[i] = await PlainAsync(t);
                        var end = Stopwatch.GetTimestamp();
                        latencies[i] = Ms(start, end);
                        fromSchedule[i] = Ms(scheduled, end);
                        Interlocked.Decrement(ref inFlight);
                    }
                }

                if (Volatile.Read(ref inFlight) > maxInFlight)
                {
                    abort = $"more than {maxInFlight} requests in flight";
                    break;
                }

                if (sent < total)
                {
                    await Task.Delay(1);
                }
            }

            var sendSeconds = Ms(started, Stopwatch.GetTimestamp()) / 1000.0;
            var pending = tasks.Take(sent).ToArray();
            var all = Task.WhenAll(pending);
            if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(30))) != all)
            {
                abort ??= "requests still running 30 s after the last send";
            }

            var samples = new Samples();
            var scheduledSamples = new Samples();
            var errors = 0;
            for (var i = 0; i < sent; i++)
            {
                if (pending[i].IsCompletedSuccessfully && ok[i])
                {
                    samples.Add(latencies[i]);
                    scheduledSamples.Add(fromSchedule[i]);
                }
                else
                {
                    errors++;
                }
            }

            errors += total - sent;
            var achieved = sent / Math.Max(sendSeconds, 1e-9);
            var p99 = samples.P(99);
            var why = abort
                ?? (errors > 0 ? $"{errors} errors" : null)
                ?? (p99 > _s.P99LimitMs ? $"p99 {p99:0.00} ms" : null)
                ?? (achieved < 0.95 * rate ? $"sent only {achieved:0}/s" : null);
            
            return new RateStep(rate, sent, errors, samples.P(50), p99, scheduledSamples.P(99), achieved, why is null, why);
        }

        private IEnumerable<Target> Order(int round) => round % 2 == 0 ? _s.Targets : Enumerable.Reverse(_s.Targets);

        public async Task<string> RunAsync()
        {
            var clock = Stopwatch.StartNew();
            // Once per path before anything is measured: load at the measured concurrency until the JIT's tiering has
            // settled. A .NET process needs 10-15 s of load on 2 cores to get there (tier-1 compiles run on a
            // background thread that competes with the load); nginx needs none, every path gets the same.
            foreach (var t in _s.Targets)
            {
                var started = Stopwatch.GetTimestamp();
                var requests = 0;
                while (Ms(started, Stopwatch.GetTimestamp()) < _s.InitialWarmupSeconds * 1000)
                {
                    await ClosedLoopAsync(t, _s.Concurrency, 2000);
                    requests += 2000;
                }

                // Streams too: a proxy's streaming path (the gateway's SSE relay) is code of its own, and 4 streams
                // before the measured 40 left it in the JIT's first tier (added TTFT 0.79 ms where yarp-bare had 0.31).
                for (var batch = 0; batch < 4; batch++)
                {
                    await Task.WhenAll(Enumerable.Range(0, _s.Concurrency).Select(_ => StreamAsync(t)));
                }

                Log($"{t.Name}: initial warm-up {requests} requests and {4 * _s.Concurrency} streams in {Ms(started, Stopwatch.GetTimestamp()) / 1000:0.0} s");
            }

            for (var round = 0; round < _s.Rounds; round++)
            {
                foreach (var t in Order(round))
                {
                    var r = _results[t.Name];
                    await WarmupAsync(t, 1);
                    var (lat, errors, _) = await ClosedLoopAsync(t, 1, _s.Requests1 / _s.Rounds);
                    r.C1.AddRange(lat);
                    r.C1.Errors += errors;
                    Log($"round {round + 1}: {t.Name} c=1: p50 {r.C1.P(50):0.000} ms ({r.C1.Count} samples)");
                }
            }

            for (var round = 0; round < _s.Rounds; round++)
            {
                foreach (var t in Order(round))
                {
                    var r = _results[t.Name];
                    await WarmupAsync(t, _s.Concurrency);
                    var (lat, errors, seconds) = await ClosedLoopAsync(t, _s.Concurrency, _s.Requests16 / _s.Rounds);
                    r.Cn.AddRange(lat);
                    r.Cn.Errors += errors;
                    r.CnSeconds += seconds;
                    Log($"round {round + 1}: {t.Name} c={_s.Concurrency}: p50 {r.Cn.P(50):0.000} ms, {r.CnThroughput:0} req/s");
                }
            }

            for (var round = 0; round < _s.Rounds; round++)
            {
                foreach (var t in Order(round))
                {
                    var r = _results[t.Name];
                    for (var i = 0; i < Math.Max(2, _s.Streams / 10); i++) await StreamAsync(t); // warm-up
                    for (var i = 0; i < _s.Streams / _s.Rounds; i++)
                    {
                        if (await StreamAsync(t) is { } s && s.Events == _s.Chunks)
                        {
                            r.Ttft.Add(s.Ttft);
                            r.Gap.Add(s.Gap);
                            r.Total.Add(s.Total);
                        }
                        else
                        {
                            r.Ttft.Errors++;
                        }
                    }

                    Log($"round {round + 1}: {t.Name} streams: TTFT p50 {r.Ttft.P(50):0.000} ms, gap {r.Gap.Mean:0.000} ms");
                }
            }

            foreach (var t in _s.Targets)
            {
                var r = _results[t.Name];
                foreach (var rate in _s.Rates)
                {
                    await OpenLoopAsync(t, rate, _s.RateWarmupSeconds);
                    var step = await OpenLoopAsync(t, rate, _s.RateSeconds);
                    if (!step.Passed)
                    {
                        // One retry: on a shared machine a single descheduling burst can decide a 3 s step's p99.
                        Log($"{t.Name} {rate}/s: failed ({step.Why}); retrying the step once");
                        step = await OpenLoopAsync(t, rate, _s.RateSeconds);
                    }

                    r.Steps.Add(step);
                    Log($"{t.Name} {rate}/s: p50 {step.P50:0.000} ms, p99 {step.P99:0.000} ms (from schedule {step.P99FromSchedule:0.000}), sent {step.AchievedRate:0}/s, {(step.Passed ? "pass" : "FAIL: " + step.Why)}");
                    if (!step.Passed) break;
                }
            }

            return Report(clock.Elapsed);
        }

        private string Report(TimeSpan elapsed)
        {
            var d = _results["direct"];
            var sb = new StringBuilder();
            var n = _s.Concurrency;
            sb.AppendLine($"# {_s.Title}");
            sb.AppendLine();
            sb.AppendLine($"{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC · {Environment.ProcessorCount} CPUs · load average at start {_loadAtStart}, at end {LoadAverage()} · measured in {elapsed.TotalMinutes:0.0} min");
            foreach (var note in _s.Notes) sb.AppendLine().Append(note).AppendLine();
            sb.AppendLine();
            sb.AppendLine($"Same loopback upstream behind every path; same client (.NET HttpClient, HTTP/1.1, pooled keep-alive connections, warmed up). " +
                          $"Added = path percentile − direct percentile. Samples per path: {d.C1.Count} (c=1), {d.Cn.Count} (c={n}), {d.Ttft.Count} streams of {_s.Chunks} chunks; {_s.Rounds} rounds, path order reversed each round.");
            sb.AppendLine();

            sb.AppendLine($"## Non-streamed chat completion (ms)");
            sb.AppendLine();
            sb.AppendLine($"| path | c=1 p50 | c=1 p99 | **added p50** | added p99 | c={n} p50 | c={n} p99 | **added p50** | added p99 | c={n} req/s | errors |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var t in _s.Targets)
            {
                var r = _results[t.Name];
                var direct = t.Name == "direct";
                sb.AppendLine($"| {t.Name} | {F(r.C1.P(50))} | {F(r.C1.P(99))} | {A(direct, r.C1.P(50) - d.C1.P(50))} | {A(direct, r.C1.P(99) - d.C1.P(99))} | " +
                              $"{F(r.Cn.P(50))} | {F(r.Cn.P(99))} | {A(direct, r.Cn.P(50) - d.Cn.P(50))} | {A(direct, r.Cn.P(99) - d.Cn.P(99))} | {r.CnThroughput:0} | {r.C1.Errors + r.Cn.Errors} |");
            }

            sb.AppendLine();
            sb.AppendLine($"## Streams of {_s.Chunks} chunks, upstream gap fixed (ms)");
            sb.AppendLine();
            sb.AppendLine("| path | TTFT p50 | TTFT p99 | **added TTFT p50** | added TTFT p99 | mean inter-chunk gap | **added gap** | send → last chunk p50 | added | errors |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var t in _s.Targets)
            {
                var r = _results[t.Name];
                var direct = t.Name == "direct";
                sb.AppendLine($"| {t.Name} | {F(r.Ttft.P(50))} | {F(r.Ttft.P(99))} | {A(direct, r.Ttft.P(50) - d.Ttft.P(50))} | {A(direct, r.Ttft.P(99) - d.Ttft.P(99))} | " +
                              $"{F(r.Gap.Mean)} | {A(direct, r.Gap.Mean - d.Gap.Mean)} | {F(r.Total.P(50))} | {A(direct, r.Total.P(50) - d.Total.P(50))} | {r.Ttft.Errors} |");
            }

            sb.AppendLine();
            sb.AppendLine("The gap is (last − first chunk) / (chunks − 1): a proxy that holds the first chunk and then sends the backlog at once shows a *smaller* gap, so the whole stream (send → last chunk) is shown as well.");
            sb.AppendLine();
            sb.AppendLine($"## Highest offered rate with p99 ≤ {_s.P99LimitMs:0.#} ms (open loop, {_s.RateSeconds:0.#} s per step)");
            sb.AppendLine();
            sb.AppendLine("| path | **highest passing (req/s)** | p50 / p99 there (ms) | p99 from schedule there (ms) | next step | why it failed |");
            sb.AppendLine("|---|---:|---:|---:|---:|---|");
            foreach (var t in _s.Targets)
            {
                var r = _results[t.Name];
                var pass = r.Steps.LastOrDefault(s => s.Passed);
                var fail = r.Steps.FirstOrDefault(s => !s.Passed);
                sb.AppendLine($"| {t.Name} | {(pass is null ? "none" : pass.Rate.ToString(CultureInfo.InvariantCulture))} | {(pass is null ? "–" : $"{F(pass.P50)} / {F(pass.P99)}")} | {(pass is null ? "–" : F(pass.P99FromSchedule))} | " +
                              $"{(fail is null ? "(all passed)" : fail.Rate.ToString(CultureInfo.InvariantCulture))} | {fail?.Why ?? "–"} |");
            }

            sb.AppendLine();
            sb.AppendLine("Steps tried: " + string.Join(", ", _s.Rates) + " req/s; a failing step is retried once and each path stops at its first step that fails twice. Latency from each request's actual start; a step also fails on any error, a backlog of more than max(512, rate) requests or sending under 95 % of the rate. The client, upstream and proxy share the machine's CPUs, so direct's ceiling is the harness's own.");
            sb.AppendLine();
            AppendGoals(sb);
            return sb.ToString();
        }

        private void AppendGoals(StringBuilder sb)
        {
            if (!_results.TryGetValue("gateway", out var g)) return;
            var d = _results["direct"];
            var n = _s.Concurrency;
            sb.AppendLine("## Goals");
            sb.AppendLine();
            if (_results.TryGetValue("nginx", out var x))
            {
                sb.AppendLine("| gateway vs nginx | gateway | nginx | difference | goal ≤ 0.3 ms |");
                sb.AppendLine("|---|---:|---:|---:|---|");
                foreach (var (label, gv, nv) in new[]
                         {
                             ("added p50, c=1 (ms)", g.C1.P(50) - d.C1.P(50), x.C1.P(50) - d.C1.P(50)),
                             ($"added p50, c={n} (ms)", g.Cn.P(50) - d.Cn.P(50), x.Cn.P(50) - d.Cn.P(50)),
                         })
                {
                    sb.AppendLine($"| {label} | {F(gv)} | {F(nv)} | {F(gv - nv)} | {(gv - nv <= 0.3 ? "met" : "**not met**")} |");
                }

                sb.AppendLine();
            }

            if (_results.TryGetValue("portkey", out var p))
            {
                sb.AppendLine("| gateway vs Portkey (lower is better unless marked) | gateway | Portkey | gateway / Portkey | goal: gateway ahead |");
                sb.AppendLine("|---|---:|---:|---:|---|");
                var rows = new List<(string Label, double G, double P, bool HigherBetter)>
                {
                    ("added p50, c=1 (ms)", g.C1.P(50) - d.C1.P(50), p.C1.P(50) - d.C1.P(50), false),
                    ("added p99, c=1 (ms)", g.C1.P(99) - d.C1.P(99), p.C1.P(99) - d.C1.P(99), false),
                    ($"added p50, c={n} (ms)", g.Cn.P(50) - d.Cn.P(50), p.Cn.P(50) - d.Cn.P(50), false),
                    ($"added p99, c={n} (ms)", g.Cn.P(99) - d.Cn.P(99), p.Cn.P(99) - d.Cn.P(99), false),
                    ("added TTFT p50 (ms)", g.Ttft.P(50) - d.Ttft.P(50), p.Ttft.P(50) - d.Ttft.P(50), false),
                    // Either sign is a distortion of the upstream's pacing: a proxy that holds chunks and sends the backlog
                    // at once shows a shorter gap, so the distance from direct's gap is compared, not the signed value.
                    ("inter-chunk gap, distance from direct's (ms)", Math.Abs(g.Gap.Mean - d.Gap.Mean), Math.Abs(p.Gap.Mean - d.Gap.Mean), false),
                    ("added send → last chunk p50 (ms)", g.Total.P(50) - d.Total.P(50), p.Total.P(50) - d.Total.P(50), false),
                    ($"c={n} throughput (req/s, higher better)", g.CnThroughput, p.CnThroughput, true),
                    ($"rate with p99 ≤ {_s.P99LimitMs:0.#} ms (req/s, higher better)", g.Steps.LastOrDefault(s => s.Passed)?.Rate ?? 0, p.Steps.LastOrDefault(s => s.Passed)?.Rate ?? 0, true),
                };
                foreach (var (label, gv, pv, higher) in rows)
                {
                    var ahead = higher ? gv > pv : gv < pv;
                    var ratio = Math.Abs(pv) < 1e-9 ? "–" : (gv / pv).ToString("0.00", CultureInfo.InvariantCulture);
                    var (gs, ps) = higher ? (gv.ToString("0", CultureInfo.InvariantCulture), pv.ToString("0", CultureInfo.InvariantCulture)) : (F(gv), F(pv));
                    sb.AppendLine($"| {label} | {gs} | {ps} | {ratio} | {(ahead ? "ahead" : "**not ahead**")} |");
                }

                sb.AppendLine();
            }
        }

        private static string F(double v) => double.IsNaN(v) ? "–" : Math.Abs(v) >= 100 ? v.ToString("0", CultureInfo.InvariantCulture) : v.ToString("0.000", CultureInfo.InvariantCulture);

        private static string A(bool direct, double v) => direct ? "–" : (v >= 0 ? "+" : "") + F(v);
    }
}
