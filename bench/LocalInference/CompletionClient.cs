using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace InferenceMesh.Bench.LocalInference;

/// <summary>What one streamed completion looked like from the client's side.</summary>
/// <param name="Tokens">Server-sent events that carried non-empty text: one per token, because the
/// request forbids EOS, control and byte-fallback tokens and sets no stop strings.</param>
/// <param name="UsageTokens">completion_tokens from a usage object, when the server sent one.</param>
internal sealed record StreamResult(
    long SendTimestamp,
    long FirstTokenTimestamp,
    long LastTokenTimestamp,
    int Tokens,
    int? UsageTokens,
    string? FinishReason)
{
    public double TimeToFirstTokenMs => Stopwatch.GetElapsedTime(SendTimestamp, FirstTokenTimestamp).TotalMilliseconds;

    public double SendToLastMs => Stopwatch.GetElapsedTime(SendTimestamp, LastTokenTimestamp).TotalMilliseconds;

    /// <summary>Tokens per second as the client saw them: all tokens over send-to-last-token.</summary>
    public double EndToEndTokensPerSecond => Tokens / Stopwatch.GetElapsedTime(SendTimestamp, LastTokenTimestamp).TotalSeconds;

    /// <summary>Generation rate after the first token (excludes prompt processing and the first token).</summary>
    public double DecodeTokensPerSecond => Tokens < 2
        ? double.NaN
        : (Tokens - 1) / Stopwatch.GetElapsedTime(FirstTokenTimestamp, LastTokenTimestamp).TotalSeconds;
}

/// <summary>Streams OpenAI <c>/v1/completions</c> over one pooled, loopback-only HTTP handler.</summary>
internal sealed class CompletionClient : IDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(120);

    private readonly HttpClient _http;
    private readonly Uri _completions;
    private readonly string _model;
    private readonly IReadOnlyList<int> _forbiddenTokens;

    private readonly bool _blocking;

    public CompletionClient(Uri baseUrl, string model, IReadOnlyList<int> forbiddenTokens, bool blocking = false)
    {
        _blocking = blocking;
        // Same tuning as a forwarding proxy: no proxy, no decompression, no cookies, enough
        // connections for every concurrent stream, no whole-client timeout (each call has its own).
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            MaxConnectionsPerServer = 256,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _completions = new Uri(baseUrl, "v1/completions");
        _model = model;
        _forbiddenTokens = forbiddenTokens;
    }

    public HttpClient Http => _http;

    /// <summary>Requests sent a second time because the server had closed a kept-alive connection without
    /// answering (llama-server v0.5.0 does that under load, probably with connections its dynamic HTTP threads served).</summary>
    public int Resends => _resends;

    private int _resends;

    /// <summary>Sends the request through <paramref name="send"/>; once more, with a new send time, when the server closed
    /// a pooled connection before any byte of an answer (the request never reached a handler, so sending it again is
    /// safe). A synchronous <paramref name="send"/> returns a completed task, and then nothing here awaits.</summary>
    private async Task<(long Send, HttpResponseMessage Response)> SendAsync(byte[] body, Func<HttpRequestMessage, Task<HttpResponseMessage>> send)
    {
        for (var attempt = 1; ; attempt++)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, _completions) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            var sentAt = Stopwatch.GetTimestamp();
            try
            {
                return (sentAt, await send(request));
            }
            catch (HttpRequestException e) when (attempt == 1 && e.HttpRequestError == HttpRequestError.ResponseEnded)
            {
                Interlocked.Increment(ref _resends);
            }
        }
    }

    private BenchmarkException Refused(HttpResponseMessage response, string body) =>
        new($"POST {_completions} returned {(int)response.StatusCode}: {Truncate(body)}");

    /// <summary>
    /// One streamed completion: on .NET's async I/O (the default: an epoll thread hands every event to a thread-pool
    /// worker, which spins in <c>sched_yield</c> for a while before it sleeps), or in blocking mode on a thread of
    /// its own that sleeps in the socket's read between events, as curl does. On a 2-core machine whose cores both
    /// run the measured server's decode threads, the client's own CPU is taken from the server it measures
    /// (bench/README.md, local inference, "Stop 20").
    /// </summary>
    public Task<StreamResult> StreamAsync(string prompt, int maxTokens, CancellationToken cancellationToken) =>
        _blocking
            ? Task.Factory.StartNew(() => Stream(prompt, maxTokens, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            : StreamNonBlockingAsync(prompt, maxTokens, cancellationToken);

    private StreamResult Stream(string prompt, int maxTokens, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        var (send, response) = SendAsync(
            BuildBody(prompt, maxTokens),
            request => Task.FromResult(_http.Send(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token))).GetAwaiter().GetResult();
        using (response)
        {
            // A blocking read is not cancellable: the timeout (or the caller) disposes the response under it.
            using var abort = timeout.Token.Register(static r => ((HttpResponseMessage)r!).Dispose(), response);
            using var stream = response.Content.ReadAsStream(timeout.Token);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            if (!response.IsSuccessStatusCode)
            {
                throw Refused(response, reader.ReadToEnd());
            }

            var events = new EventCounter();
            while (reader.ReadLine() is { } line && events.Accept(line))
            {
            }

            timeout.Token.ThrowIfCancellationRequested();
            return events.Result(send);
        }
    }

    private async Task<StreamResult> StreamNonBlockingAsync(string prompt, int maxTokens, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        var (send, sent) = await SendAsync(
            BuildBody(prompt, maxTokens),
            request => _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token));
        using var response = sent;
        if (!response.IsSuccessStatusCode)
        {
            throw Refused(response, await response.Content.ReadAsStringAsync(timeout.Token));
        }

        await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var events = new EventCounter();
        while (await reader.ReadLineAsync(timeout.Token) is { } line && events.Accept(line))
        {
        }

        return events.Result(send);
    }

    /// <summary>Counts the token events of one stream and notes when the first and the last arrived.</summary>
    private sealed class EventCounter
    {
        private long _first;
        private long _last;
        private int _tokens;
        private int? _usage;
        private string? _finish;
        private bool _done;

        /// <summary>Takes one line of the stream; false once <c>[DONE]</c> was read.</summary>
        public bool Accept(string line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                return true; // blank separators, comments, event: lines
            }

            var data = line.AsSpan(5).Trim();
            if (data.SequenceEqual("[DONE]"))
            {
                _done = true;
                return false;
            }

            var now = Stopwatch.GetTimestamp();
            using var doc = JsonDocument.Parse(data.ToString());
            var root = doc.RootElement;
            if (root.TryGetProperty("error", out var error))
            {
                throw new BenchmarkException($"stream error event: {Truncate(error.ToString())}");
            }

            if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object
                && u.TryGetProperty("completion_tokens", out var ct) && ct.TryGetInt32(out var n))
            {
                _usage = n;
            }

            if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
            {
                return true;
            }

            foreach (var choice in choices.EnumerateArray())
            {
                if (choice.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
                    && text.GetString() is { Length: > 0 })
                {
                    _tokens++;
                    if (_first == 0)
                    {
                        _first = now;
                    }

                    _last = now;
                }

                if (choice.TryGetProperty("finish_reason", out var fr) && fr.ValueKind == JsonValueKind.String)
                {
                    _finish = fr.GetString();
                }
            }

            return true;
        }

        public StreamResult Result(long send)
        {
            if (_tokens == 0)
            {
                throw new BenchmarkException($"the stream ended without any token (finish_reason {_finish ?? "none"}, [DONE] {(_done ? "seen" : "missing")})");
            }

            return new StreamResult(send, _first, _last, _tokens, _usage, _finish);
        }
    }

    private byte[] BuildBody(string prompt, int maxTokens)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", _model);
            json.WriteString("prompt", prompt);
            json.WriteNumber("max_tokens", maxTokens);
            json.WriteNumber("temperature", 0);
            json.WriteBoolean("stream", true);
            json.WriteStartObject("stream_options");
            json.WriteBoolean("include_usage", true); // lets the harness cross-check its token count
            json.WriteEndObject();
            json.WriteStartObject("logit_bias");
            foreach (var token in _forbiddenTokens)
            {
                // -100 is the OpenAI value for "ban this token".
                json.WriteNumber(token.ToString(System.Globalization.CultureInfo.InvariantCulture), -100);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static string Truncate(string text) => text.Length <= 300 ? text : text[..300] + "…";

    public void Dispose() => _http.Dispose();
}

/// <summary>An expected benchmark failure (server error, bad stream); reported, not a crash.</summary>
internal sealed class BenchmarkException(string message) : Exception(message);
