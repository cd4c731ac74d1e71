using System.Net.Http.Headers;
using InferenceMesh.Router.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace InferenceMesh.Gateway.Backends.OpenAi;

/// <summary>
/// An OpenAI-compatible upstream, forwarded with YARP's <see cref="IHttpForwarder"/> (no buffering, SSE intact).
/// The body is the client's with <c>model</c> replaced by the plan step's upstream model; the only credential
/// sent is the backend's own key.
/// </summary>
internal sealed class OpenAiChatBackend(IHttpForwarder forwarder, BackendTransport transport, BackendOptions options, TimeProvider time) : IChatBackend
{
    public BackendKind Kind => BackendKind.OpenAi;

    /// <summary>The most stop strings OpenAI's API takes; the gateway's local engine takes more (<see cref="Inference.GenerationSettings.MaxStopSequences"/>).</summary>
    public const int MaxStopSequences = 4;

    public Task<BackendAttempt> SendAsync(BackendCall call, CancellationToken cancellationToken)
    {
        if (call.Request.Stop is { ValueKind: System.Text.Json.JsonValueKind.Array } stop && stop.GetArrayLength() > MaxStopSequences)
        {
            // OpenAI would refuse it (400, and no failover after a rejection): not sent, the plan's next step answers.
            var refusal = Errors.ApiErrors.UnsupportedByBackend(
                "stop", $"'stop' holds more than {MaxStopSequences} strings, more than OpenAI-compatible backends accept; only the local model and mesh peers take up to {Inference.GenerationSettings.MaxStopSequences}.");
            return Task.FromResult(BackendAttempt.Failed(BackendError.NotSupported, clientError: refusal));
        }

        return ForwardAsync(call, call.Body.WithModel(call.UpstreamModel), transport.Invoker, null, cancellationToken);
    }

    /// <summary>Forwards <paramref name="body"/> through <paramref name="invoker"/> (a mesh peer brings its own mTLS one, and hooks).</summary>
    internal async Task<BackendAttempt> ForwardAsync(BackendCall call, byte[] body, HttpMessageInvoker invoker, ForwardHooks? hooks, CancellationToken cancellationToken)
    {
        var http = call.Http;
        if (http.Response.HasStarted)
        {
            throw new InvalidOperationException("A backend was called after the response started.");
        }

        // The executor hands each attempt a clean response; each attempt gets a fresh copy of the (rewritten) body.
        http.Features.Set<IForwarderErrorFeature>(null);
        http.Request.Body = new MemoryStream(body, writable: false);
        http.Request.ContentLength = body.Length;
        http.Request.ContentType = "application/json";

        var state = new OpenAiAttemptState();
        var transformer = new OpenAiForwardTransformer(call, body, state, options, time, hooks);
        var baseUrl = call.Backend.BaseUrl?.ToString() ?? throw new InvalidOperationException($"Backend '{call.Backend.Name}' has no baseUrl.");
        var forwarderError = await forwarder.SendAsync(http, baseUrl, invoker, transport.RequestConfig, transformer, cancellationToken);

        if (state.Committed)
        {
            if (forwarderError is ForwarderError.ResponseBodyClient or ForwarderError.ResponseBodyCanceled || http.RequestAborted.IsCancellationRequested)
            {
                return new BackendAttempt(BackendError.Canceled, Committed: true, null, state.UpstreamStatus, state.TimeToFirstByte);
            }

            var error = state.BreakError ?? (forwarderError == ForwarderError.None ? BackendError.None : BackendError.StreamCut);
            if (error == BackendError.None && call.Capture is { } capture)
            {
                state.CompleteCapture(capture); // a broken stream is completed by the continuation instead
            }

            return new BackendAttempt(error, Committed: true, null, state.UpstreamStatus, state.TimeToFirstByte, state.Exception);
        }

        if (http.RequestAborted.IsCancellationRequested)
        {
            return BackendAttempt.Failed(BackendError.Canceled, state.UpstreamStatus);
        }

        if (state.Failure is { } failure)
        {
            return BackendAttempt.Failed(failure, state.UpstreamStatus, state.Exception) with { RetryAfter = state.RetryAfter };
        }

        var exception = http.Features.Get<IForwarderErrorFeature>()?.Exception;
        return BackendAttempt.Failed(MapForwarderError(forwarderError, cancellationToken), state.UpstreamStatus, exception);
    }

    public async Task<BackendAttempt> ProbeAsync(BackendConfig backend, string? apiKey, CancellationToken cancellationToken)
    {
        var baseUrl = backend.BaseUrl?.ToString().TrimEnd('/') ?? throw new InvalidOperationException($"Backend '{backend.Name}' has no baseUrl.");
        using var request = new HttpRequestMessage(HttpMethod.Get, baseUrl + "/models");
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        var started = time.GetTimestamp();
        try
        {
            using var response = await transport.Invoker.SendAsync(request, cancellationToken);
            var status = (int)response.StatusCode;
            return status is >= 200 and < 300
                ? new BackendAttempt(BackendError.None, false, null, status, time.GetElapsedTime(started))
                : BackendAttempt.Failed(BackendErrors.FromStatus(status), status);
        }
        catch (OperationCanceledException ex)
        {
            return BackendAttempt.Failed(BackendError.Timeout, null, ex);
        }
        catch (HttpRequestException ex)
        {
            return BackendAttempt.Failed(BackendError.Refused, null, ex);
        }
    }

    private static BackendError MapForwarderError(ForwarderError error, CancellationToken cancellationToken) => error switch
    {
        _ when cancellationToken.IsCancellationRequested => BackendError.Timeout, // the first-byte timeout (the client is still there)
        ForwarderError.RequestTimedOut => BackendError.Timeout,
        // Connection refused or reset, DNS or TLS failure: nothing came back.
        ForwarderError.Request or ForwarderError.RequestCreation or ForwarderError.NoAvailableDestinations => BackendError.Refused,
        _ => BackendError.MalformedResponse,
    };
}
