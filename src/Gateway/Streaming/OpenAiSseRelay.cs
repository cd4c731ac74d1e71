using System.Buffers;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Streaming;

/// <summary>
/// The content stream that replaces an upstream's OpenAI event stream on its way to the client. It passes
/// through only complete events (<c>data: …\n\n</c>), parsing each one as it goes (id, created, model, the
/// assistant text so far, finish_reason, [DONE]). When the upstream breaks after the first event (an
/// exception, an end without [DONE], silence longer than the idle timeout, an error event or a malformed
/// event), the held-back partial event is dropped and the stream switches to
/// <see cref="IStreamContinuation"/>'s frames, so the client receives one well-framed stream that ends with [DONE].
/// </summary>
/// <remarks>Not thread-safe (one reader: YARP's body copy). Never logs: the text it accumulates is the answer.</remarks>
public sealed class OpenAiSseRelay : Stream
{
    private readonly Stream _upstream;
    private readonly string _backend;
    private readonly IStreamContinuation _continuation;
    private readonly TimeProvider _time;
    private readonly TimeSpan _idleTimeout;
    private readonly int _maxEventBytes;
    private readonly CancellationToken _requestAborted;
    private readonly Action<BackendError, Exception?>? _onBreak;
    private readonly Action<string>? _onComment;
    private readonly ArrayBufferWriter<byte> _partial = new(4096);
    private readonly Queue<ReadOnlyMemory<byte>> _out = new();
    private readonly StringBuilder _text = new();
    private readonly OpenAi.ToolCallAssembly _toolCalls = new();
    private readonly int _choices;
    private readonly HashSet<int> _finished = [];
    private readonly byte[] _readBuffer = new byte[16 * 1024];
    private ReadOnlyMemory<byte> _current;
    private IAsyncEnumerator<ReadOnlyMemory<byte>>? _continued;
    private State _state = State.Upstream;
    private string _id = "chatcmpl-continued";
    private long _created;
    private string _model = string.Empty;
    private bool _finishSeen;
    private bool _doneSeen;
    private bool _sawDataEvent;
    private bool _sawFrame;
    private bool _skipLineFeed;
    private long _progressAt;

    /// <param name="upstream">The upstream's response body.</param>
    /// <param name="backend">The backend's name (for <see cref="StreamBreak"/>).</param>
    /// <param name="continuation">Finishes the answer when the upstream breaks after the first event.</param>
    /// <param name="time">Clock of the idle timeout.</param>
    /// <param name="idleTimeout">
    /// Longest time without an event of the answer after the first one. Comments (<c>: ping</c>) and bytes of an event
    /// that never completes do not count: an upstream that only keeps the connection alive is as stuck as a silent one.
    /// </param>
    /// <param name="maxEventBytes">Largest event; a larger one is malformed.</param>
    /// <param name="requestAborted">The client's token: the continuation runs under it.</param>
    /// <param name="onBreak">Called once when the stream switches to the continuation.</param>
    /// <param name="onComment">Called with each SSE comment line (<c>: …</c>), which never reaches the client (a peer's receipt travels so).</param>
    /// <param name="choices">
    /// The choices the request asked for (<c>n</c>): the answer is whole once each of them sent its finish_reason; with more
    /// than one, <see cref="Text"/>, <see cref="ToolCalls"/> and <see cref="FinishReason"/> are those of choice 0.
    /// </param>
    public OpenAiSseRelay(
        Stream upstream, string backend, IStreamContinuation continuation, TimeProvider time, TimeSpan idleTimeout, int maxEventBytes,
        CancellationToken requestAborted, Action<BackendError, Exception?>? onBreak = null, Action<string>? onComment = null, int choices = 1)
    {
        _choices = Math.Max(1, choices);
        _onComment = onComment;
        _upstream = upstream;
        _backend = backend;
        _continuation = continuation;
        _time = time;
        _idleTimeout = idleTimeout;
        _progressAt = time.GetTimestamp();
        _maxEventBytes = maxEventBytes;
        _requestAborted = requestAborted;
        _onBreak = onBreak;
    }

    private enum State { Upstream, Continuing, Finished }

    private enum FrameResult { Ok, Malformed, ErrorEvent }

    /// <summary>Whether the stream switched to the continuation.</summary>
    public bool Broke { get; private set; }

    /// <summary>The assistant text received from the upstream so far (the answer: never log it).</summary>
    public string UpstreamText => _text.ToString();

    /// <summary>Whether the upstream sent [DONE] itself.</summary>
    public bool CompletedByUpstream => _doneSeen && !Broke;

    /// <summary>The assistant text the upstream sent so far (all of it once <see cref="CompletedByUpstream"/>; choice 0's of n). Never log it.</summary>
    public string Text => _text.ToString();

    /// <summary>The last finish_reason the upstream sent, or null.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>The upstream's tool calls, assembled from its <c>delta.tool_calls</c> by index.</summary>
    public IReadOnlyList<OpenAi.AnsweredToolCall> ToolCalls => _toolCalls.Calls;

    /// <summary>
    /// Reads (and holds back) the upstream until its first data event, before anything is sent to the client.
    /// <see cref="BackendError.None"/> when it is a chat.completion.chunk; otherwise why the stream is no good
    /// (the caller then fails over: nothing was sent).
    /// </summary>
    public async Task<BackendError> ReadFirstEventAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (!_sawDataEvent)
        {
            var read = await _upstream.ReadAsync(_readBuffer, cancellationToken);
            if (read == 0)
            {
                return total == 0 ? BackendError.EmptyResponse : BackendError.MalformedResponse;
            }

            total += read;
            switch (Feed(_readBuffer.AsSpan(0, read), first: true))
            {
                case FrameResult.Malformed:
                    return BackendError.MalformedResponse;
                case FrameResult.ErrorEvent:
                    return BackendError.ServerError;
            }

            if (_doneSeen && !_sawDataEvent)
            {
                return BackendError.EmptyResponse; // [DONE] with no chunk before it
            }
        }

        return BackendError.None;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (_current.Length > 0)
            {
                var n = Math.Min(buffer.Length, _current.Length);
                _current.Span[..n].CopyTo(buffer.Span);
                _current = _current[n..];
                return n;
            }

            if (_out.TryDequeue(out var next))
            {
                _current = next;
                continue;
            }

            switch (_state)
            {
                case State.Finished:
                    return 0;

                case State.Continuing:
                    if (await _continued!.MoveNextAsync())
                    {
                        _current = _continued.Current;
                    }
                    else
                    {
                        _state = State.Finished;
                    }

                    continue;
            }

            if (_doneSeen)
            {
                _state = State.Finished;
                continue;
            }

            int read;
            try
            {
                var left = _idleTimeout - _time.GetElapsedTime(_progressAt);
                if (left <= TimeSpan.Zero)
                {
                    throw new TimeoutException("No event of the answer within the stream idle timeout.");
                }

                using var idle = new CancellationTokenSource(left, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(idle.Token, cancellationToken);
                read = await _upstream.ReadAsync(_readBuffer, linked.Token);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw; // the client left (or YARP gave up): nothing to continue for
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException or ObjectDisposedException or TimeoutException)
            {
                Break(ex);
                continue;
            }

            if (read == 0)
            {
                if (_finishSeen)
                {
                    // A clean end after the finish_reason: the answer is whole, only the optional [DONE] is missing
                    // (some OpenAI-compatible servers never send it). Not a break: nothing to continue, nothing to blame.
                    _partial.ResetWrittenCount();
                    _doneSeen = true;
                    _out.Enqueue(SseEvents.Done);
                    continue;
                }

                Break(null); // ended without [DONE] in the middle of the answer
                continue;
            }

            if (Feed(_readBuffer.AsSpan(0, read), first: false) != FrameResult.Ok)
            {
                Break(null);
            }
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read asynchronously.");

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Break(Exception? exception)
    {
        _partial.ResetWrittenCount(); // a half event never reaches the client
        _out.Clear();
        Broke = true;
        _state = State.Continuing;
        _onBreak?.Invoke(BackendError.StreamCut, exception);
        var streamBreak = new StreamBreak(_backend, BackendError.StreamCut, _id, _created, _model, _text.ToString(), _finishSeen);
        _continued = _continuation.ContinueAsync(streamBreak, _requestAborted).GetAsyncEnumerator(_requestAborted);
    }

    /// <summary>Appends bytes and queues every complete event. Stops at the first bad one.</summary>
    private FrameResult Feed(ReadOnlySpan<byte> bytes, bool first)
    {
        if (_skipLineFeed && bytes.Length > 0)
        {
            // The last event ended with a CR at the end of a read: this LF is that CRLF's second half.
            _skipLineFeed = false;
            if (bytes[0] == (byte)'\n')
            {
                bytes = bytes[1..];
            }
        }

        _partial.Write(bytes);
        while (true)
        {
            var data = _partial.WrittenSpan;
            var (end, next) = FindEventEnd(data);
            if (end < 0)
            {
                return data.Length > _maxEventBytes ? FrameResult.Malformed : FrameResult.Ok;
            }

            var frame = data[..end];
            var result = Process(frame, first);
            _skipLineFeed = next == data.Length && data[^1] == (byte)'\r';
            var rest = data[next..].ToArray();
            _partial.ResetWrittenCount();
            _partial.Write(rest);
            if (result != FrameResult.Ok)
            {
                return result;
            }

            if (_doneSeen)
            {
                return FrameResult.Ok; // bytes after [DONE] are ignored
            }
        }
    }

    /// <summary>
    /// Where the first event ends (its lines, without the blank line) and where the next one starts, or -1 when no blank
    /// line has arrived yet. Lines end with CRLF, LF or CR, as the SSE spec allows (mixed, too). A CR that is the last byte
    /// read ends the event only when it is the blank line itself (a following LF is then skipped by <see cref="Feed"/>);
    /// after a data line it waits for the next byte, which may be that CRLF's LF.
    /// </summary>
    private static (int End, int Next) FindEventEnd(ReadOnlySpan<byte> data)
    {
        var lineStart = 0;
        var i = data.IndexOfAny((byte)'\r', (byte)'\n');
        while (i >= 0)
        {
            int next;
            if (data[i] == (byte)'\n')
            {
                next = i + 1;
            }
            else if (i + 1 < data.Length)
            {
                next = data[i + 1] == (byte)'\n' ? i + 2 : i + 1;
            }
            else if (i == lineStart)
            {
                return (lineStart, i + 1);
            }
            else
            {
                return (-1, 0);
            }

            if (i == lineStart)
            {
                return (lineStart, next); // a blank line: the event is everything before it
            }

            lineStart = next;
            var found = data[next..].IndexOfAny((byte)'\r', (byte)'\n');
            i = found < 0 ? -1 : next + found;
        }

        return (-1, 0);
    }

    /// <summary>One event without its blank line: data lines are joined; comment-only events pass through.</summary>
    private FrameResult Process(ReadOnlySpan<byte> frame, bool first)
    {
        var text = Encoding.UTF8.GetString(frame);
        if (!_sawFrame)
        {
            _sawFrame = true;
            text = text.TrimStart('\uFEFF'); // a byte order mark before the first line is not part of it (SSE spec)
        }

        var data = new StringBuilder();
        var hasData = false;
        foreach (var line in text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\r', '\n'))
        {
            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                if (hasData)
                {
                    data.Append('\n');
                }

                data.Append(line.AsSpan(line.Length > 5 && line[5] == ' ' ? 6 : 5));
                hasData = true;
            }
            else if (line.StartsWith(':') && _onComment is not null)
            {
                _onComment(line);
            }
            else if (line.Length > 0 && !line.StartsWith(':') && !line.StartsWith("event:", StringComparison.Ordinal)
                && !line.StartsWith("id:", StringComparison.Ordinal) && !line.StartsWith("retry:", StringComparison.Ordinal))
            {
                return FrameResult.Malformed;
            }
        }

        if (!hasData)
        {
            return FrameResult.Ok; // a comment or keep-alive: nothing for the client
        }

        var payload = data.ToString();
        if (payload == "[DONE]")
        {
            _doneSeen = true;
            _out.Enqueue(SseEvents.Done);
            return FrameResult.Ok;
        }

        try
        {
            using var document = JsonDocument.Parse(payload);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return FrameResult.Malformed;
            }

            if (root.TryGetProperty("error", out _))
            {
                return FrameResult.ErrorEvent;
            }

            if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
            {
                return FrameResult.Malformed;
            }

            if (choices.GetArrayLength() == 0 && !root.TryGetProperty("usage", out _))
            {
                // No choice and no usage: nothing of the answer (Azure OpenAI opens every stream with one that holds only
                // prompt_filter_results, id "" and created 0). Dropped, and not the first event: the first must be a chunk.
                return FrameResult.Ok;
            }

            if (root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String) _id = JsonText.GetLenient(id);
            if (root.TryGetProperty("created", out var created) && created.TryGetInt64(out var c)) _created = c;
            if (root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String) _model = JsonText.GetLenient(model);
            foreach (var choice in choices.EnumerateArray())
            {
                if (choice.ValueKind != JsonValueKind.Object)
                {
                    return FrameResult.Malformed;
                }

                // The choice's index (0 when left out); with one choice asked for, every chunk is its.
                var index = choice.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out var k) ? k : 0;
                var isFirstChoice = _choices == 1 || index == 0;
                if (isFirstChoice && choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object)
                {
                    if (delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                    {
                        _text.Append(JsonText.GetLenient(content));
                    }

                    if (delta.TryGetProperty("tool_calls", out var toolCalls))
                    {
                        _toolCalls.Add(toolCalls);
                    }
                }

                if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
                {
                    _finished.Add(index);
                    _finishSeen = _choices == 1 || _finished.Count >= _choices; // n choices: whole once each finished
                    if (isFirstChoice)
                    {
                        FinishReason = JsonText.GetLenient(finish);
                    }
                }
            }
        }
        catch (JsonException)
        {
            return FrameResult.Malformed;
        }

        _sawDataEvent = true;
        _progressAt = _time.GetTimestamp();
        // Several data lines joined by \n: between JSON tokens (a JSON string holds no raw line break), so a space keeps the
        // JSON and gives the client one line per event, as every other event of the gateway.
        _out.Enqueue(Encoding.UTF8.GetBytes("data: " + payload.Replace('\n', ' ') + "\n\n"));
        return FrameResult.Ok;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _upstream.Dispose();
            // Ends a continuation the client left in the middle of (frees its local slot); it never throws.
            if (_continued is { } continued)
            {
                _continued = null;
                _ = continued.DisposeAsync().AsTask();
            }
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_continued is { } continued)
        {
            _continued = null;
            await continued.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>An <see cref="HttpContent"/> over an <see cref="OpenAiSseRelay"/> (what YARP copies to the client).</summary>
internal sealed class OpenAiSseRelayContent(OpenAiSseRelay relay) : HttpContent
{
    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult<Stream>(relay);

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => Task.FromResult<Stream>(relay);

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => relay.CopyToAsync(stream);

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken) =>
        relay.CopyToAsync(stream, cancellationToken);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            relay.Dispose();
        }

        base.Dispose(disposing);
    }
}
