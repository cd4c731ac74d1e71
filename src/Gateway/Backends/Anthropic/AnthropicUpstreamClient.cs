using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// Sends OpenAI chat-completions requests to an Anthropic Messages upstream and answers in OpenAI's shape.
/// Every expected failure (untranslatable request, upstream error status or event, refused connection,
/// timeout, malformed or cut stream) is an <see cref="AnthropicFailure"/> value; only the caller's own
/// cancellation throws (<see cref="OperationCanceledException"/>). Thread-safe: one instance serves all
/// Anthropic backends; per-call data lives in <see cref="AnthropicUpstreamTarget"/>.
/// </summary>
/// <remarks>
/// Headers sent: <c>x-api-key</c> (the target's key), <c>anthropic-version</c>, content type and accept;
/// nothing of the client's request (its Authorization in particular) is ever forwarded. Redirects are not
/// followed (with <see cref="CreateHandler"/>; a 3xx is a failure), so the key never goes elsewhere.
/// </remarks>
public sealed partial class AnthropicUpstreamClient
{
    private readonly HttpMessageInvoker _invoker;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly AnthropicUpstreamOptions _options;

    /// <param name="invoker">Usually an <see cref="HttpMessageInvoker"/> over <see cref="CreateHandler"/>; shared, not disposed here.</param>
    public AnthropicUpstreamClient(HttpMessageInvoker invoker, TimeProvider time, ILogger<AnthropicUpstreamClient> logger, AnthropicUpstreamOptions? options = null)
    {
        _invoker = invoker;
        _time = time;
        _logger = logger;
        _options = options ?? new AnthropicUpstreamOptions();
        _options.Validate();
    }

    /// <summary>
    /// The handler to forward with: no proxy, no redirects, no decompression, no cookies, a connect timeout,
    /// and no whole-request timeout (the client applies header and idle timeouts itself).
    /// </summary>
    public static SocketsHttpHandler CreateHandler() => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = AnthropicDefaults.ConnectTimeout,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        EnableMultipleHttp2Connections = true,
        // Never forward our own trace context to a third party.
        ActivityHeadersPropagator = null,
    };

    /// <summary>
    /// The circuit probe: <c>GET {baseUrl}/v1/models</c> with the key, no prompt. Null when the upstream
    /// answered 2xx; otherwise the failure (same mapping as a chat call).
    /// </summary>
    public async Task<AnthropicFailure?> ProbeAsync(AnthropicUpstreamTarget target, CancellationToken cancellationToken = default)
    {
        using var timeout = new CancellationTokenSource(_options.ResponseHeadersTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, target.ModelsUri);
            AddHeaders(message, target, "application/json");
            using var response = await _invoker.SendAsync(message, linked.Token);
            return await CheckStatusAsync(target, response, linked.Token);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException ex)
        {
            return Failed(target, AnthropicErrorMapping.Timeout(ex));
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return Failed(target, AnthropicErrorMapping.Unreachable(ex));
        }
    }

    /// <summary>A non-streamed call: the OpenAI chat.completion, or a failure.</summary>
    /// <param name="responseId">The OpenAI id to answer with; a new <c>chatcmpl-…</c> when null.</param>
    /// <param name="onResponseHeaders">Called when the upstream's response headers arrived (the executor's first byte).</param>
    public async Task<AnthropicResult<ChatCompletionResponse>> CompleteAsync(
        AnthropicUpstreamTarget target, ChatCompletionRequest request, string? responseId = null, Action? onResponseHeaders = null, CancellationToken cancellationToken = default)
    {
        var translated = AnthropicRequestTranslator.Translate(request, target.Model, stream: false, _options.DefaultMaxTokens);
        if (translated.Error is { } invalid)
        {
            return Unsupported(target, invalid);
        }

        var id = responseId ?? InferenceService.NewId("chatcmpl-");
        var created = _time.GetUtcNow().ToUnixTimeSeconds();
        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using var message = CreateHttpRequest(target, translated.Value!, stream: false);
            using var response = await _invoker.SendAsync(message, linked.Token);
            onResponseHeaders?.Invoke();
            if (await CheckStatusAsync(target, response, linked.Token) is { } failure)
            {
                return failure;
            }

            AnthropicMessagesResponse? body;
            try
            {
                var bytes = await UpstreamContent.ReadBoundedAsync(response.Content, _options.MaxResponseBytes, linked.Token);
                body = bytes is null ? null : JsonSerializer.Deserialize(bytes, AnthropicJsonContext.Default.AnthropicMessagesResponse);
            }
            catch (JsonException ex)
            {
                return Failed(target, AnthropicErrorMapping.Malformed("the response body is not a Messages response", ex));
            }

            if (body is null)
            {
                return Failed(target, AnthropicErrorMapping.Malformed("the response body is missing or too large"));
            }

            var result = AnthropicResponseTranslator.Translate(body, id, created, target.Model);
            if (result.Failure is { } malformed)
            {
                return Failed(target, malformed);
            }

            Log.Completed(_logger, target.BackendName, result.Value!.Choices[0].FinishReason ?? "stop");
            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException ex)
        {
            return Failed(target, AnthropicErrorMapping.Timeout(ex));
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return Failed(target, AnthropicErrorMapping.Unreachable(ex));
        }
    }

    /// <summary>
    /// Starts a streamed call and reads up to the first content block after message_start, so a failure that happens
    /// before the first token (error status, error event such as overloaded_error, refused connection, timeout, malformed start) is returned here,
    /// before anything was sent to the client. On success the caller owns (and must dispose) the stream;
    /// <paramref name="cancellationToken"/> keeps governing the whole stream.
    /// </summary>
    /// <param name="responseId">The OpenAI id of every chunk; a new <c>chatcmpl-…</c> when null.</param>
    public async Task<AnthropicResult<AnthropicChatStream>> StartStreamAsync(
        AnthropicUpstreamTarget target, ChatCompletionRequest request, string? responseId = null, CancellationToken cancellationToken = default)
    {
        var translated = AnthropicRequestTranslator.Translate(request, target.Model, stream: true, _options.DefaultMaxTokens);
        if (translated.Error is { } invalid)
        {
            return Unsupported(target, invalid);
        }

        var translator = new AnthropicStreamTranslator(
            responseId ?? InferenceService.NewId("chatcmpl-"),
            _time.GetUtcNow().ToUnixTimeSeconds(),
            target.Model,
            includeUsage: request.StreamOptions?.IncludeUsage ?? false);

        // One timer for the whole call: first the header timeout, then re-armed as an idle timeout before each read.
        var timeout = new CancellationTokenSource(_options.ResponseHeadersTimeout, _time);
        var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        HttpResponseMessage? response = null;
        AnthropicChatStream? stream = null;
        try
        {
            using (var message = CreateHttpRequest(target, translated.Value!, stream: true))
            {
                response = await _invoker.SendAsync(message, lifetime.Token);
            }

            if (await CheckStatusAsync(target, response, lifetime.Token) is { } failure)
            {
                return failure;
            }

            if (!string.Equals(response.Content.Headers.ContentType?.MediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase))
            {
                return Failed(target, AnthropicErrorMapping.Malformed("a 200 response that is not an event stream"));
            }

            timeout.CancelAfter(_options.StreamIdleTimeout);
            if (await UpstreamContent.OpenAsync(response.Content, lifetime.Token) is not { } body)
            {
                return Failed(target, AnthropicErrorMapping.Malformed("an event stream in a content encoding the gateway cannot decode"));
            }

            stream = new AnthropicChatStream(this, target, translator, response, body, timeout, lifetime, cancellationToken, _options);
            response = null;
            timeout = null;
            lifetime = null;

            if (await stream.PrefetchStartAsync() is { } startFailure)
            {
                await stream.DisposeAsync();
                stream = null;
                return startFailure;
            }

            var started = stream;
            stream = null;
            return started;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException ex)
        {
            return Failed(target, AnthropicErrorMapping.Timeout(ex));
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return Failed(target, AnthropicErrorMapping.Unreachable(ex));
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync();
            }

            response?.Dispose();
            lifetime?.Dispose();
            timeout?.Dispose();
        }
    }

    internal AnthropicFailure Failed(AnthropicUpstreamTarget target, AnthropicFailure failure)
    {
        if (failure.Exception is { } exception)
        {
            Log.FailedWithException(_logger, target.BackendName, failure.Kind, failure.UpstreamStatus, exception);
        }
        else
        {
            Log.Failed(_logger, target.BackendName, failure.Kind, failure.UpstreamStatus);
        }

        return failure;
    }

    internal void StreamCompleted(AnthropicUpstreamTarget target, string finishReason) => Log.StreamCompleted(_logger, target.BackendName, finishReason);

    /// <summary>
    /// A request the translation refused: what it cannot carry yet (<see cref="AnthropicRequestTranslator.UnsupportedCode"/>,
    /// another backend may) or what is invalid for any backend (e.g. tool call arguments that are not a JSON object), which the
    /// client sees as it is.
    /// </summary>
    private AnthropicFailure Unsupported(AnthropicUpstreamTarget target, Errors.ApiError error)
    {
        Log.Untranslatable(_logger, target.BackendName, error.Param);
        var kind = error.Code == AnthropicRequestTranslator.UnsupportedCode ? AnthropicFailureKind.UnsupportedRequest : AnthropicFailureKind.InvalidRequest;
        return new AnthropicFailure(kind, error, Retryable: false);
    }

    private static HttpRequestMessage CreateHttpRequest(AnthropicUpstreamTarget target, AnthropicMessagesRequest body, bool stream)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, target.MessagesUri)
        {
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, AnthropicJsonContext.Default.AnthropicMessagesRequest)),
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrHigher,
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        AddHeaders(message, target, stream ? "text/event-stream" : "application/json");
        return message;
    }

    /// <summary>The only headers sent: the backend's key, the API version, accept. Nothing from the client's request.</summary>
    private static void AddHeaders(HttpRequestMessage message, AnthropicUpstreamTarget target, string accept)
    {
        if (target.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("x-api-key", key);
        }

        message.Headers.TryAddWithoutValidation("anthropic-version", AnthropicDefaults.ApiVersion);
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        message.Headers.UserAgent.Add(new ProductInfoHeaderValue("inference-mesh", "1.0"));
    }

    /// <summary>Null for a 2xx; otherwise the mapped failure, with the error body read (bounded) and parsed when it is JSON.</summary>
    private async Task<AnthropicFailure?> CheckStatusAsync(AnthropicUpstreamTarget target, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (status is >= 200 and <= 299)
        {
            return null;
        }

        if (status is >= 300 and <= 399)
        {
            return Failed(target, AnthropicErrorMapping.Redirect(status));
        }

        AnthropicErrorDetail? detail = null;
        try
        {
            if (await UpstreamContent.ReadBoundedAsync(response.Content, _options.MaxEventBytes, cancellationToken) is { Length: > 0 } bytes)
            {
                detail = JsonSerializer.Deserialize(bytes, AnthropicJsonContext.Default.AnthropicErrorResponse)?.Error;
            }
        }
        catch (Exception ex) when (ex is JsonException or IOException or HttpRequestException)
        {
            // The status alone decides; the body was only for the message.
        }

        return Failed(target, AnthropicErrorMapping.FromStatus(status, detail, RetryAfter.Of(response, _time) is { } wait ? RetryAfter.Seconds(wait) : null));
    }
}
