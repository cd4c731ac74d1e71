using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;
using InferenceMesh.Router.Configuration;
using Microsoft.AspNetCore.Http.Features;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// <see cref="IChatBackend"/> for config type <c>anthropic</c>: translates the OpenAI request, calls the
/// upstream through <see cref="AnthropicUpstreamClient"/>, and writes the client's response only once the
/// upstream's answer was checked (non-streamed: the whole translated body; streamed: message_start). A
/// stream that breaks after that is finished by <see cref="BackendCall.Continuation"/> with the text
/// already sent. Stateless per call; thread-safe.
/// </summary>
internal sealed class AnthropicChatBackend(AnthropicUpstreamClient client, TimeProvider time) : IChatBackend
{
    public BackendKind Kind => BackendKind.Anthropic;

    public async Task<BackendAttempt> SendAsync(BackendCall call, CancellationToken cancellationToken)
    {
        if (call.Http.Response.HasStarted)
        {
            throw new InvalidOperationException("A backend was called after the response started.");
        }

        if (call.Backend.BaseUrl is not { } baseUrl)
        {
            throw new InvalidOperationException($"Backend '{call.Backend.Name}' has no baseUrl.");
        }

        var target = new AnthropicUpstreamTarget(call.Backend.Name, baseUrl, call.ApiKey, call.UpstreamModel);
        var started = time.GetTimestamp();
        TimeSpan? firstByte = null;
        void OnFirstByte()
        {
            firstByte ??= time.GetElapsedTime(started);
            call.OnFirstByte();
        }

        try
        {
            return call.Stream
                ? await StreamAsync(call, target, OnFirstByte, () => firstByte, cancellationToken)
                : await CompleteAsync(call, target, OnFirstByte, () => firstByte, cancellationToken);
        }
        catch (OperationCanceledException ex) when (!call.Http.Response.HasStarted)
        {
            // The executor's first-byte timeout or the client leaving; nothing was written.
            return BackendAttempt.Failed(call.Http.RequestAborted.IsCancellationRequested ? BackendError.Canceled : BackendError.Timeout, exception: ex);
        }
        catch (OperationCanceledException ex)
        {
            return new BackendAttempt(BackendError.Canceled, Committed: true, UpstreamStatus: 200, TimeToFirstByte: firstByte, Exception: ex);
        }
    }

    public async Task<BackendAttempt> ProbeAsync(BackendConfig backend, string? apiKey, CancellationToken cancellationToken)
    {
        var baseUrl = backend.BaseUrl ?? throw new InvalidOperationException($"Backend '{backend.Name}' has no baseUrl.");
        var started = time.GetTimestamp();
        try
        {
            return await client.ProbeAsync(new AnthropicUpstreamTarget(backend.Name, baseUrl, apiKey, Model: string.Empty), cancellationToken) is { } failure
                ? Failed(failure)
                : new BackendAttempt(BackendError.None, Committed: false, UpstreamStatus: 200, TimeToFirstByte: time.GetElapsedTime(started));
        }
        catch (OperationCanceledException ex)
        {
            return BackendAttempt.Failed(BackendError.Timeout, exception: ex);
        }
    }

    private async Task<BackendAttempt> CompleteAsync(BackendCall call, AnthropicUpstreamTarget target, Action onFirstByte, Func<TimeSpan?> firstByte, CancellationToken cancellationToken)
    {
        var result = await client.CompleteAsync(target, call.Request, responseId: null, onFirstByte, cancellationToken);
        if (result.Failure is { } failure)
        {
            return Failed(failure);
        }

        var response = call.Http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers[BackendDefaults.BackendHeader] = call.Backend.Name;
        await response.WriteAsJsonAsync(result.Value!, OpenAiJsonContext.Default.ChatCompletionResponse, "application/json; charset=utf-8", call.Http.RequestAborted);
        if (call.Capture is { } capture && result.Value!.Choices is [var choice, ..])
        {
            capture.AddToolCalls(choice.Message.ToolCalls);
            capture.CompleteWith(choice.Message.Content ?? string.Empty, choice.FinishReason);
        }

        return new BackendAttempt(BackendError.None, Committed: true, UpstreamStatus: 200, TimeToFirstByte: firstByte());
    }

    private async Task<BackendAttempt> StreamAsync(BackendCall call, AnthropicUpstreamTarget target, Action onFirstByte, Func<TimeSpan?> firstByte, CancellationToken cancellationToken)
    {
        var start = await client.StartStreamAsync(target, call.Request, responseId: null, cancellationToken);
        if (start.Failure is { } failure)
        {
            return Failed(failure);
        }

        await using var stream = start.Value!;
        onFirstByte();

        // Committed from here: the client gets this backend's answer (or its continuation).
        var http = call.Http;
        var response = http.Response;
        var aborted = http.RequestAborted;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        response.Headers[BackendDefaults.BackendHeader] = call.Backend.Name;
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.StartAsync(aborted);

        await foreach (var chunk in stream.ReadChunksAsync(aborted))
        {
            await response.BodyWriter.WriteAsync(SseEvents.Encode(chunk, OpenAiJsonContext.Default.ChatCompletionChunk), aborted);
            if (chunk.Choices is [{ Delta.ToolCalls: { } toolCalls }, ..])
            {
                call.Capture?.AddToolCalls(toolCalls);
            }
        }

        if (stream.Failure is not { } broke)
        {
            await response.BodyWriter.WriteAsync(SseEvents.Done, aborted);
            call.Capture?.CompleteWith(stream.AccumulatedText, stream.FinishReason);
            return new BackendAttempt(BackendError.None, Committed: true, UpstreamStatus: 200, TimeToFirstByte: firstByte());
        }

        // Whatever broke it (cut, silence, malformed or error event), after the first byte it is a cut stream.
        var streamBreak = new StreamBreak(call.Backend.Name, BackendError.StreamCut, stream.Id, stream.Created, stream.Model, stream.AccumulatedText, FinishSeen: false);
        await foreach (var frame in call.Continuation.ContinueAsync(streamBreak, aborted))
        {
            await response.BodyWriter.WriteAsync(frame, aborted);
        }

        return new BackendAttempt(BackendError.StreamCut, Committed: true, UpstreamStatus: broke.UpstreamStatus ?? 200, TimeToFirstByte: firstByte(), Exception: broke.Exception);
    }

    private static BackendAttempt Failed(AnthropicFailure failure)
    {
        var error = ToBackendError(failure);
        // Errors the client must see as they are (the request itself is at fault, or cannot be translated).
        var clientError = error is BackendError.Rejected or BackendError.NotSupported ? failure.Error : null;
        return BackendAttempt.Failed(error, failure.UpstreamStatus, failure.Exception, clientError) with
        {
            RetryAfter = failure.Error.RetryAfterSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
        };
    }

    /// <summary>The executor's view of an Anthropic failure.</summary>
    internal static BackendError ToBackendError(AnthropicFailure failure) => failure.Kind switch
    {
        // Not the backend's fault and maybe not every backend's limit (another may accept images): the client's 400 if none answers.
        AnthropicFailureKind.UnsupportedRequest => BackendError.NotSupported,
        AnthropicFailureKind.InvalidRequest => BackendError.Rejected,
        AnthropicFailureKind.Authentication => BackendError.Unauthorized,
        AnthropicFailureKind.NotFound => BackendError.UnexpectedStatus,
        AnthropicFailureKind.RateLimited => BackendError.RateLimited,
        // 529 overloaded: the equivalent of a 503, retryable.
        AnthropicFailureKind.Overloaded => BackendError.Unavailable,
        AnthropicFailureKind.ServerError => failure.UpstreamStatus is { } status and not 200 ? BackendErrors.FromStatus(status) : BackendError.ServerError,
        AnthropicFailureKind.Unreachable => BackendError.Refused,
        AnthropicFailureKind.Timeout => BackendError.Timeout,
        AnthropicFailureKind.MalformedResponse => failure.UpstreamStatus is >= 300 and < 400 ? BackendError.UnexpectedStatus : BackendError.MalformedResponse,
        AnthropicFailureKind.StreamCut => BackendError.StreamCut,
        AnthropicFailureKind.StreamError => BackendError.ServerError,
        _ => BackendError.ServerError,
    };
}
