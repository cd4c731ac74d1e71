using System.Runtime.CompilerServices;
using System.Text.Json;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// A started Anthropic stream, read incrementally as OpenAI chunks. <see cref="ReadChunksAsync"/> ends
/// normally both on success (<see cref="Completed"/>, last chunks = finish_reason, then usage if asked)
/// and on failure (<see cref="Failure"/> set: error event, cut before message_stop, malformed event, idle
/// timeout); it throws only when the caller cancels. After a failure, <see cref="AccumulatedText"/> holds
/// the text streamed so far, so the executor can continue elsewhere. Not thread-safe; dispose it.
/// </summary>
public sealed class AnthropicChatStream : IAsyncDisposable
{
    private readonly AnthropicUpstreamClient _client;
    private readonly AnthropicUpstreamTarget _target;
    private readonly AnthropicStreamTranslator _translator;
    private readonly HttpResponseMessage _response;
    private readonly AnthropicSseReader _reader;
    private readonly CancellationTokenSource _idle;
    private readonly CancellationTokenSource _lifetime;
    private readonly CancellationToken _callerToken;
    private readonly AnthropicUpstreamOptions _options;
    private readonly List<ChatCompletionChunk> _pending = [];
    private bool _reading;
    private bool _ended;

    internal AnthropicChatStream(
        AnthropicUpstreamClient client, AnthropicUpstreamTarget target, AnthropicStreamTranslator translator, HttpResponseMessage response,
        Stream body, CancellationTokenSource idle, CancellationTokenSource lifetime, CancellationToken callerToken, AnthropicUpstreamOptions options)
    {
        _client = client;
        _target = target;
        _translator = translator;
        _response = response;
        _reader = new AnthropicSseReader(body, options.MaxEventBytes);
        _idle = idle;
        _lifetime = lifetime;
        _callerToken = callerToken;
        _options = options;
    }

    /// <summary>The id of every chunk.</summary>
    public string Id => _translator.Id;

    public long Created => _translator.Created;

    /// <summary>The model named by the upstream's message_start.</summary>
    public string Model => _translator.Model;

    /// <summary>The text received so far (all of it once <see cref="Completed"/>).</summary>
    public string AccumulatedText => _translator.AccumulatedText;

    /// <summary>message_stop was received.</summary>
    public bool Completed => _translator.Completed;

    /// <summary>Why the stream failed; null while running and on success.</summary>
    public AnthropicFailure? Failure { get; private set; }

    /// <summary>The OpenAI finish_reason once <see cref="Completed"/>.</summary>
    public string? FinishReason => _translator.FinishReason;

    /// <summary>Usage as known so far (final once <see cref="Completed"/>).</summary>
    public Usage Usage => _translator.Usage;

    /// <summary>
    /// The chunks, starting with the role chunk already read by StartStreamAsync. Call once. Ends normally on
    /// failure (check <see cref="Failure"/>); throws <see cref="OperationCanceledException"/> only when the
    /// start token or <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async IAsyncEnumerable<ChatCompletionChunk> ReadChunksAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (_reading)
        {
            throw new InvalidOperationException("The stream can be read only once.");
        }

        _reading = true;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token, cancellationToken);
        while (true)
        {
            foreach (var chunk in _pending)
            {
                yield return chunk;
            }

            _pending.Clear();
            if (_ended)
            {
                yield break;
            }

            if (await ReadNextAsync(linked.Token, cancellationToken) is { } failure)
            {
                Failure = _client.Failed(_target, failure);
                _ended = true;
            }
        }
    }

    /// <summary>
    /// Reads until the first content block (or the end) after message_start; a failure before it is returned (and logged).
    /// Anthropic sends an overload as an <c>error</c> event right after message_start: read this far, it is still a retryable
    /// failure with nothing sent to the client (the next backend answers), not a stream cut before its first token.
    /// </summary>
    internal async Task<AnthropicFailure?> PrefetchStartAsync()
    {
        while (!(_translator.Started && (_translator.ContentStarted || _translator.Completed)) && !_ended)
        {
            if (await ReadNextAsync(_lifetime.Token, CancellationToken.None) is { } failure)
            {
                _ended = true;
                return _client.Failed(_target, failure);
            }
        }

        return null;
    }

    /// <summary>Reads one event into <see cref="_pending"/>; a failure value for everything but the caller's cancellation.</summary>
    private async Task<AnthropicFailure?> ReadNextAsync(CancellationToken token, CancellationToken readToken)
    {
        SseEvent? next;
        try
        {
            _idle.CancelAfter(_options.StreamIdleTimeout);
            next = await _reader.ReadAsync(token);
        }
        catch (OperationCanceledException) when (_callerToken.IsCancellationRequested || readToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException ex)
        {
            return AnthropicErrorMapping.Timeout(ex);
        }
        catch (InvalidDataException ex)
        {
            return AnthropicErrorMapping.Malformed("an event larger than the limit", ex);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            return AnthropicErrorMapping.StreamCut(ex);
        }

        if (next is not { } sse)
        {
            return AnthropicErrorMapping.StreamCut();
        }

        AnthropicStreamEvent? streamEvent;
        try
        {
            streamEvent = JsonSerializer.Deserialize(sse.Data, AnthropicJsonContext.Default.AnthropicStreamEvent);
        }
        catch (JsonException ex)
        {
            return AnthropicErrorMapping.Malformed("an event that is not valid JSON", ex);
        }

        if (streamEvent is null)
        {
            return AnthropicErrorMapping.Malformed("an event with null data");
        }

        if (_translator.Apply(streamEvent, _pending) is { } failure)
        {
            return failure;
        }

        if (_translator.Completed)
        {
            _ended = true;
            _client.StreamCompleted(_target, _translator.FinishReason!);
        }

        return null;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        _lifetime.Dispose();
        _idle.Dispose();
        return ValueTask.CompletedTask;
    }
}
