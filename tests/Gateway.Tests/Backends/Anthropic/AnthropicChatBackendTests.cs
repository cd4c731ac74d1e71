using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Backends.Anthropic;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;
using InferenceMesh.Router.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.Gateway.Tests.Backends.Anthropic;

/// <summary>The <see cref="IChatBackend"/> contract: nothing written before the upstream answer was checked; a later break is continued.</summary>
public sealed class AnthropicChatBackendTests : IAsyncLifetime
{
    private LoopbackAnthropicUpstream _upstream = null!;
    private HttpMessageInvoker _invoker = null!;
    private AnthropicChatBackend _backend = null!;

    public async Task InitializeAsync()
    {
        _upstream = await LoopbackAnthropicUpstream.StartAsync();
        _invoker = new HttpMessageInvoker(AnthropicUpstreamClient.CreateHandler());
        var time = new FixedTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        _backend = new AnthropicChatBackend(new AnthropicUpstreamClient(_invoker, time, NullLogger<AnthropicUpstreamClient>.Instance), time);
    }

    public async Task DisposeAsync()
    {
        _invoker.Dispose();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task An_overloaded_upstream_fails_before_anything_is_written()
    {
        _upstream.Respond = LoopbackAnthropicUpstream.Json(529, """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""");
        var (call, body, continuation) = Call(stream: true);

        var attempt = await _backend.SendAsync(call, CancellationToken.None);

        Assert.Equal(BackendError.Unavailable, attempt.Error);
        Assert.True(attempt.Error.IsRetryable());
        Assert.False(attempt.Committed);
        Assert.False(call.Http.Response.HasStarted);
        Assert.Equal(0, body.Length);
        Assert.Null(continuation.Break);
    }

    [Fact]
    public async Task A_stream_broken_after_the_first_byte_is_finished_by_the_continuation()
    {
        var cut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _upstream.Respond = LoopbackAnthropicUpstream.Events(AnthropicScript.HelloWorld().Take(5), abortWhen: cut.Task);
        var (call, body, continuation) = Call(stream: true);
        var firstBytes = 0;
        call = call with { OnFirstByte = () => { firstBytes++; cut.TrySetResult(); } };

        var attempt = await _backend.SendAsync(call, CancellationToken.None);

        Assert.True(attempt.Committed);
        Assert.Equal(BackendError.StreamCut, attempt.Error);
        Assert.Equal(1, firstBytes);
        Assert.Equal("Hello, world", continuation.Break!.PartialText);
        Assert.Equal("claude-test-1", continuation.Break.Model);
        Assert.Equal("cloud-b", call.Http.Response.Headers[BackendDefaults.BackendHeader]);
        var events = Common.Sse.ParseStrict(Encoding.UTF8.GetString(body.ToArray()));
        Assert.Equal("Hello, world (continued)", Common.Sse.Text(events));
        Assert.Equal("stop", Common.Sse.FinishReason(events));
        Assert.Single(events.Select(e => e.GetProperty("id").GetString()).Distinct());
    }

    [Fact]
    public async Task A_non_streamed_answer_is_written_as_a_chat_completion()
    {
        _upstream.Respond = LoopbackAnthropicUpstream.Json(200,
            """{"id":"msg_01","model":"claude-test-1","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}""");
        var (call, body, _) = Call(stream: false);

        var attempt = await _backend.SendAsync(call, CancellationToken.None);

        Assert.True(attempt.Succeeded);
        Assert.True(attempt.Committed);
        Assert.NotNull(attempt.TimeToFirstByte);
        var json = JsonDocument.Parse(body.ToArray()).RootElement;
        Assert.Equal("Hi", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(1_700_000_000, json.GetProperty("created").GetInt64());
        Assert.Equal(4, json.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.False(_upstream.SingleRequest.Headers.ContainsKey("authorization"));
    }

    [Fact]
    public async Task An_image_request_is_not_supported_with_the_clients_400_kept()
    {
        var (call, _, _) = Call(stream: false, messages: """[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]""");

        var attempt = await _backend.SendAsync(call, CancellationToken.None);

        Assert.Equal(BackendError.NotSupported, attempt.Error);
        Assert.Equal(400, attempt.ClientError!.StatusCode);
        Assert.Empty(_upstream.Requests);
    }

    private (BackendCall Call, MemoryStream Body, RecordingContinuation Continuation) Call(bool stream, string? messages = null)
    {
        var json = $$"""{"model":"auto","stream":{{(stream ? "true" : "false")}},"messages":{{messages ?? """[{"role":"user","content":"Say hello"}]"""}}}""";
        var http = new DefaultHttpContext();
        // The client's own credentials must never reach the upstream.
        http.Request.Headers.Authorization = "Bearer client-key";
        var body = new MemoryStream();
        http.Response.Body = body;
        var continuation = new RecordingContinuation();
        var call = new BackendCall
        {
            Http = http,
            Backend = new BackendConfig { Name = "cloud-b", Kind = BackendKind.Anthropic, BaseUrl = new Uri(_upstream.BaseAddress, "/v1") },
            UpstreamModel = "claude-test-1",
            Body = ChatRequestBody.FromRaw(Encoding.UTF8.GetBytes(json)),
            Request = JsonSerializer.Deserialize(json, OpenAiJsonContext.Default.ChatCompletionRequest)!,
            Stream = stream,
            ApiKey = "sk-ant-test-key",
            Continuation = continuation,
            OnFirstByte = () => { },
        };
        return (call, body, continuation);
    }

    private sealed class RecordingContinuation : IStreamContinuation
    {
        public StreamBreak? Break { get; private set; }

        public async IAsyncEnumerable<ReadOnlyMemory<byte>> ContinueAsync(StreamBreak streamBreak, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Break = streamBreak;
            await Task.CompletedTask;
            yield return SseEvents.Encode(
                new ChatCompletionChunk(streamBreak.Id, streamBreak.Created, streamBreak.Model, [new ChatChunkChoice(0, new ChatDelta(Content: " (continued)"), null)]),
                OpenAiJsonContext.Default.ChatCompletionChunk);
            yield return SseEvents.Encode(
                new ChatCompletionChunk(streamBreak.Id, streamBreak.Created, streamBreak.Model, [new ChatChunkChoice(0, new ChatDelta(), "stop")]),
                OpenAiJsonContext.Default.ChatCompletionChunk);
            yield return SseEvents.Done;
        }
    }
}
