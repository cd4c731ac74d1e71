using System.Net.Http.Headers;
using System.Text.Json;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;
using Yarp.ReverseProxy.Forwarder;

namespace InferenceMesh.Gateway.Backends.OpenAi;

/// <summary>
/// Shapes one forwarded chat request and checks the upstream's answer BEFORE anything reaches the client.
/// Request: no client header is copied (not the client's Authorization, cookies or our own headers); the
/// backend's key, JSON content type and the rewritten path. Response: a non-2xx status, an empty or
/// malformed body, or a stream whose first event is not a chunk becomes a failure value and
/// <c>false</c> (YARP then sends nothing, and the executor tries the next backend); a good answer gets
/// our backend header and, for a stream, the <see cref="OpenAiSseRelay"/> as its content.
/// One instance per attempt.
/// </summary>
internal sealed class OpenAiForwardTransformer(
    BackendCall call, byte[] body, OpenAiAttemptState state, BackendOptions options, TimeProvider time, ForwardHooks? hooks = null) : HttpTransformer
{
    private static readonly MediaTypeHeaderValue JsonType = new("application/json");

    public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        // Deliberately not calling base: it would copy every client header.
        proxyRequest.RequestUri = new Uri(destinationPrefix.TrimEnd('/') + "/chat/completions");
        proxyRequest.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(call.Stream ? "text/event-stream" : "application/json"));
        proxyRequest.Headers.UserAgent.Add(new ProductInfoHeaderValue("inference-mesh", "1.0"));
        if (call.ApiKey is { } key)
        {
            proxyRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        if (proxyRequest.Content is { } content)
        {
            content.Headers.ContentType = JsonType;
            content.Headers.ContentLength = body.Length;
        }

        WholeBodyHandler.Attach(proxyRequest, body);

        hooks?.Request?.Invoke(proxyRequest);
        state.SentAt = time.GetTimestamp();
        return ValueTask.CompletedTask;
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is null)
        {
            return false; // a transport failure: YARP reports it as a ForwarderError
        }

        var status = (int)proxyResponse.StatusCode;
        state.UpstreamStatus = status;
        if (status is < 200 or >= 300)
        {
            state.Failure = BackendErrors.FromStatus(status);
            state.RetryAfter = RetryAfter.Of(proxyResponse, time);
            return false;
        }

        try
        {
            if (call.Stream)
            {
                Stream? upstream;
                if (IsMediaType(proxyResponse, "application/json"))
                {
                    // An upstream that ignores stream:true and answers with the whole completion: still its answer, as events.
                    var whole = await UpstreamContent.ReadBoundedAsync(proxyResponse.Content, options.MaxResponseBytes, cancellationToken);
                    if (whole is null || !HasChatCompletionShape(whole))
                    {
                        state.Failure = whole is { Length: 0 } ? BackendError.EmptyResponse : BackendError.MalformedResponse;
                        return false;
                    }

                    upstream = new MemoryStream(CompletionEvents.FromCompletion(whole), writable: false);
                }
                else if (IsMediaType(proxyResponse, "text/event-stream"))
                {
                    upstream = await UpstreamContent.OpenAsync(proxyResponse.Content, cancellationToken);
                }
                else
                {
                    upstream = null;
                }

                if (upstream is null)
                {
                    state.Failure = BackendError.MalformedResponse;
                    return false;
                }

                var relay = new OpenAiSseRelay(
                    upstream, call.Backend.Name, call.Continuation, time, options.StreamIdleTimeout, options.MaxEventBytes,
                    httpContext.RequestAborted, (error, exception) => state.StreamBroken(error, exception), hooks?.SseComment,
                    call.Request.N ?? 1);
                var first = await relay.ReadFirstEventAsync(cancellationToken);
                if (first != BackendError.None)
                {
                    await relay.DisposeAsync();
                    state.Failure = first;
                    return false;
                }

                state.FirstByte(time);
                call.OnFirstByte();
                state.Relay = relay;
                hooks?.Relay?.Invoke(relay);
                var content = new OpenAiSseRelayContent(relay);
                content.Headers.ContentType = new MediaTypeHeaderValue("text/event-stream") { CharSet = "utf-8" };
                proxyResponse.Content = content;
            }
            else
            {
                state.FirstByte(time);
                call.OnFirstByte();
                var body = await UpstreamContent.ReadBoundedAsync(proxyResponse.Content, options.MaxResponseBytes, cancellationToken);
                if (body is null)
                {
                    state.Failure = BackendError.MalformedResponse;
                    return false;
                }

                if (body.Length == 0)
                {
                    state.Failure = BackendError.EmptyResponse;
                    return false;
                }

                if (!IsChatCompletion(body, call.Capture is null ? null : state))
                {
                    state.Failure = BackendError.MalformedResponse;
                    return false;
                }

                hooks?.Body?.Invoke(body);
                var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                proxyResponse.Content = content;
            }
        }
        catch (OperationCanceledException ex)
        {
            state.Failure = BackendError.Timeout; // the executor turns it into Canceled when the client left
            state.Exception = ex;
            return false;
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            state.Failure = BackendError.MalformedResponse;
            state.Exception = ex;
            return false;
        }

        hooks?.Response?.Invoke(proxyResponse);
        await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        var headers = httpContext.Response.Headers;
        headers.Remove("Set-Cookie");
        // An observed answer (a conversation turn) is sent chunked: the response then ends only after the observers
        // stored it, so a client that read the whole answer finds it stored; with a Content-Length it could read it first.
        headers.ContentLength = call.Stream || call.Capture is not null ? null : proxyResponse.Content.Headers.ContentLength;
        if (call.Stream)
        {
            headers.CacheControl = "no-cache";
            headers["X-Accel-Buffering"] = "no";
        }

        headers[BackendDefaults.BackendHeader] = call.Backend.Name;
        state.Committed = true;
        return true;
    }

    private static bool IsMediaType(HttpResponseMessage response, string mediaType) =>
        string.Equals(response.Content.Headers.ContentType?.MediaType, mediaType, StringComparison.OrdinalIgnoreCase);

    /// <summary>Checks the body's shape; with <paramref name="answer"/> (someone observes the answer) also keeps the first choice's text from the same parse.</summary>
    private static bool IsChatCompletion(byte[] body, OpenAiAttemptState? answer)
    {
        if (answer is null)
        {
            return HasChatCompletionShape(body);
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var valid = root.ValueKind == JsonValueKind.Object
                && !root.TryGetProperty("error", out _)
                && root.TryGetProperty("choices", out var choices)
                && choices.ValueKind == JsonValueKind.Array
                && choices.GetArrayLength() > 0;
            if (valid && answer is not null && root.GetProperty("choices")[0] is { ValueKind: JsonValueKind.Object } choice)
            {
                if (choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object
                    && message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    answer.AnswerText = JsonText.GetLenient(content);
                }

                if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("tool_calls", out var toolCalls))
                {
                    answer.AnswerToolCalls.Add(toolCalls);
                }

                if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
                {
                    answer.AnswerFinishReason = JsonText.GetLenient(finish);
                }
            }

            return valid;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// The same check as <see cref="IsChatCompletion"/> in one forward pass without building a document: a JSON object
    /// (the whole body well-formed) with no top-level <c>error</c> and a non-empty <c>choices</c> array.
    /// </summary>
    internal static bool HasChatCompletionShape(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            var hasChoices = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("error"u8))
                {
                    return false;
                }

                var isChoices = reader.ValueTextEquals("choices"u8);
                reader.Read();
                if (isChoices)
                {
                    var first = reader; // a copy: peeks at the first element
                    if (reader.TokenType != JsonTokenType.StartArray || !first.Read() || first.TokenType == JsonTokenType.EndArray)
                    {
                        return false;
                    }

                    hasChoices = true;
                }

                reader.Skip();
            }

            // The object's end, then nothing but whitespace (Read throws on anything else).
            return hasChoices && reader.TokenType == JsonTokenType.EndObject && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

/// <summary>
/// What a forwarding backend other than plain OpenAI adds to an attempt (a mesh peer: its headers, its receipt, the
/// answer text for verification). Each hook runs on the attempt's own flow; none may write to the client.
/// </summary>
internal sealed class ForwardHooks
{
    /// <summary>Adds headers to the upstream request.</summary>
    public Action<HttpRequestMessage>? Request { get; init; }

    /// <summary>Sees a good answer's response headers, just before it is committed to the client.</summary>
    public Action<HttpResponseMessage>? Response { get; init; }

    /// <summary>Each SSE comment line of a stream (dropped on the way to the client).</summary>
    public Action<string>? SseComment { get; init; }

    /// <summary>A non-streamed answer's body, once checked.</summary>
    public Action<byte[]>? Body { get; init; }

    /// <summary>A stream's relay, once its first event checked out.</summary>
    public Action<OpenAiSseRelay>? Relay { get; init; }
}

/// <summary>What one forwarding attempt found out (written by the transformer and the relay, read by the backend).</summary>
internal sealed class OpenAiAttemptState
{
    private int _broken;

    public long SentAt { get; set; }

    public int? UpstreamStatus { get; set; }

    /// <summary>The wait a failed answer's <c>Retry-After</c> asked for.</summary>
    public TimeSpan? RetryAfter { get; set; }

    public BackendError? Failure { get; set; }

    public Exception? Exception { get; set; }

    public bool Committed { get; set; }

    public TimeSpan? TimeToFirstByte { get; private set; }

    /// <summary>The relay of a streamed answer (its text, once complete, is the answer).</summary>
    public OpenAiSseRelay? Relay { get; set; }

    /// <summary>The text of a JSON answer, read only when the answer is observed.</summary>
    public string? AnswerText { get; set; }

    public string? AnswerFinishReason { get; set; }

    /// <summary>The tool calls of a JSON answer, read only when the answer is observed.</summary>
    public ToolCallAssembly AnswerToolCalls { get; } = new();

    /// <summary>Completes <paramref name="capture"/> with the answer this attempt wrote in full (JSON, or a stream the upstream ended itself).</summary>
    public void CompleteCapture(Context.ChatAnswerCapture capture)
    {
        if (Relay is { } relay)
        {
            if (relay.CompletedByUpstream)
            {
                capture.AddToolCalls(relay.ToolCalls);
                capture.CompleteWith(relay.Text, relay.FinishReason);
            }
        }
        else
        {
            capture.AddToolCalls(AnswerToolCalls.Calls);
            capture.CompleteWith(AnswerText ?? string.Empty, AnswerFinishReason);
        }
    }

    public BackendError? BreakError { get; private set; }

    public void FirstByte(TimeProvider time) => TimeToFirstByte ??= time.GetElapsedTime(SentAt);

    public void StreamBroken(BackendError error, Exception? exception)
    {
        if (Interlocked.Exchange(ref _broken, 1) == 0)
        {
            BreakError = error;
            Exception = exception;
        }
    }
}
