using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Streaming;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.Gateway.Tests.Streaming;

/// <summary>
/// The relay's idle timeout counts time without an event of the answer: keep-alive comments do not hold a stuck
/// upstream open. Driven on a fake clock through a pipe whose reads the test sees arrive.
/// </summary>
public sealed class OpenAiSseRelayIdleTests
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(7);
    private const string Chunk = """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"c0 "}}]}""";

    [Fact]
    public async Task Keep_alive_comments_do_not_reset_the_idle_timeout()
    {
        var (time, pipe, upstream, continuation, buffer) = (new FakeTimeProvider(DateTimeOffset.UtcNow), new Pipe(), (ReadWatchingStream?)null, new MarkerContinuation(), new byte[64 * 1024]);
        await using var relay = await StartAfterFirstChunkAsync(time, pipe, continuation, buffer, s => upstream = s);

        // 5 s of silence, then a keep-alive comment, then 3 s more: 8 s without an event of the answer.
        var reading = upstream!.NextRead();
        var pending = relay.ReadAsync(buffer).AsTask();
        await reading;
        time.Advance(TimeSpan.FromSeconds(5));
        reading = upstream!.NextRead();
        await WriteAsync(pipe, ": ping\n\n");
        await reading; // the relay took the comment and waits again
        time.Advance(TimeSpan.FromSeconds(3));

        var read = await pending.WaitAsync(TimeSpan.FromSeconds(30)); // a bound for a broken build, not a measurement
        Assert.Equal(MarkerContinuation.Text, Encoding.UTF8.GetString(buffer, 0, read));
        Assert.True(relay.Broke);
        Assert.Equal("c0 ", continuation.Break!.PartialText);
    }

    [Fact]
    public async Task An_event_of_the_answer_starts_the_idle_timeout_again()
    {
        var (time, pipe, upstream, buffer) = (new FakeTimeProvider(DateTimeOffset.UtcNow), new Pipe(), (ReadWatchingStream?)null, new byte[64 * 1024]);
        await using var relay = await StartAfterFirstChunkAsync(time, pipe, new MarkerContinuation(), buffer, s => upstream = s);

        var reading = upstream!.NextRead();
        var pending = relay.ReadAsync(buffer).AsTask();
        await reading;
        time.Advance(TimeSpan.FromSeconds(5));
        await WriteAsync(pipe, Chunk.Replace("c0 ", "c1 ", StringComparison.Ordinal) + "\n\n");
        var read = await pending.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("c1 ", Encoding.UTF8.GetString(buffer, 0, read));

        reading = upstream!.NextRead();
        pending = relay.ReadAsync(buffer).AsTask();
        await reading;
        time.Advance(TimeSpan.FromSeconds(5)); // 10 s since the first event, 5 s since the last: not idle
        await WriteAsync(pipe, "data: [DONE]\n\n");

        read = await pending.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("data: [DONE]\n\n", Encoding.UTF8.GetString(buffer, 0, read));
        Assert.False(relay.Broke);
    }

    /// <summary>A relay over the pipe that has passed on the first chunk ("c0 "); the test then drives the silence.</summary>
    private static async Task<OpenAiSseRelay> StartAfterFirstChunkAsync(
        FakeTimeProvider time, Pipe pipe, MarkerContinuation continuation, byte[] buffer, Action<ReadWatchingStream> upstream)
    {
        var watched = new ReadWatchingStream(pipe.Reader.AsStream());
        upstream(watched);
        var relay = new OpenAiSseRelay(watched, "cloud-a", continuation, time, IdleTimeout, 64 * 1024, CancellationToken.None);
        await WriteAsync(pipe, Chunk + "\n\n");
        Assert.Equal(BackendError.None, await relay.ReadFirstEventAsync(CancellationToken.None));
        Assert.Contains("c0 ", Encoding.UTF8.GetString(buffer, 0, await relay.ReadAsync(buffer)));
        return relay;
    }

    private static async Task WriteAsync(Pipe pipe, string text)
    {
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(text));
        await pipe.Writer.FlushAsync();
    }

    /// <summary>Continues with one marker event, so the test sees that the relay broke.</summary>
    private sealed class MarkerContinuation : IStreamContinuation
    {
        public const string Text = "data: marker\n\n";

        public StreamBreak? Break { get; private set; }

        public async IAsyncEnumerable<ReadOnlyMemory<byte>> ContinueAsync(StreamBreak streamBreak, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Break = streamBreak;
            await Task.Yield();
            yield return Encoding.UTF8.GetBytes(Text);
        }
    }

    /// <summary>Tells the test when the relay asks the upstream for bytes (and so has armed its idle timer).</summary>
    private sealed class ReadWatchingStream(Stream inner) : Stream
    {
        private TaskCompletionSource _read = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes at the next read call.</summary>
        public Task NextRead()
        {
            _read = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _read.Task;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _read.TrySetResult();
            return inner.ReadAsync(buffer, cancellationToken);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
