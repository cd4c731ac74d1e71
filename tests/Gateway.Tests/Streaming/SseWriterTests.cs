using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;
using InferenceMesh.Gateway.Tests.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace InferenceMesh.Gateway.Tests.Streaming;

/// <summary>
/// How <see cref="SseWriter.WriteEachAsync{TItem}"/> batches events into writes: what is ready together goes out
/// together, nothing ready is held back. Observed through the flushes of the response pipe, not through time.
/// </summary>
public sealed class SseWriterTests
{
    [Fact]
    public async Task Events_ready_together_share_one_write_and_none_waits_for_the_next()
    {
        var (context, pipe) = NewContext();
        var writer = new SseWriter(context.Response);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var writing = writer.WriteEachAsync(Items(["a", "b", "c"], gate.Task, ["d"]), text => WriteText(writer, text), CancellationToken.None);

        // a, b and c were ready at once: one write with three whole events, sent before d exists.
        var first = await pipe.NextFlushAsync();
        Assert.Equal(["a", "b", "c"], Texts(first));
        Assert.False(writing.IsCompleted);

        gate.SetResult();
        await writing;
        Assert.Equal(2, pipe.Flushes.Count);
        Assert.Equal(["d"], Texts(pipe.Flushes[1]));
    }

    [Fact]
    public async Task A_large_burst_is_sent_in_bounded_writes()
    {
        var (context, pipe) = NewContext();
        var writer = new SseWriter(context.Response);
        var big = new string('x', SseWriter.FlushThresholdBytes / 2);
        string[] burst = [big, big, big, big, big];

        await writer.WriteEachAsync(Items(burst, Task.CompletedTask, []), text => WriteText(writer, text), CancellationToken.None);

        Assert.True(pipe.Flushes.Count >= 2, $"{pipe.Flushes.Count} writes for {burst.Length} events of {big.Length} bytes.");
        Assert.All(pipe.Flushes, f => Assert.True(f.Length < 2 * SseWriter.FlushThresholdBytes, $"A write of {f.Length} bytes."));
        Assert.Equal(burst, pipe.Flushes.SelectMany(Texts));
    }

    [Fact]
    public async Task Each_event_is_sent_on_its_own_when_the_next_is_not_ready()
    {
        var (context, pipe) = NewContext();
        var writer = new SseWriter(context.Response);
        var gates = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();

        var writing = writer.WriteEachAsync(OneByOne(["p", "q", "r"], gates), text => WriteText(writer, text), CancellationToken.None);
        for (var i = 0; i < gates.Length; i++)
        {
            gates[i].SetResult();
            Assert.Equal([new[] { "p", "q", "r" }[i]], Texts(await pipe.NextFlushAsync()));
        }

        await writing;
        Assert.Equal(3, pipe.Flushes.Count);
    }

    private static void WriteText(SseWriter writer, string text) =>
        writer.WriteEvent(new CompletionResponse("cmpl-1", 1, "m", [new CompletionChoice(0, text, null)]), OpenAiJsonContext.Default.CompletionResponse);

    private static IEnumerable<string> Texts(byte[] written)
    {
        // Every write holds whole events only: strict framing per write, then the texts.
        var body = Encoding.UTF8.GetString(written) + "data: [DONE]\n\n";
        return Sse.ParseStrict(body).Select(e => e.GetProperty("choices")[0].GetProperty("text").GetString()!).ToArray();
    }

    private static async IAsyncEnumerable<string> Items(string[] before, Task gate, string[] after, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var item in before)
        {
            yield return item;
        }

        await gate.WaitAsync(cancellationToken);
        foreach (var item in after)
        {
            yield return item;
        }
    }

    private static async IAsyncEnumerable<string> OneByOne(string[] items, TaskCompletionSource[] gates, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < items.Length; i++)
        {
            await gates[i].Task.WaitAsync(cancellationToken);
            yield return items[i];
        }
    }

    private static (DefaultHttpContext Context, RecordingPipeWriter Pipe) NewContext()
    {
        var pipe = new RecordingPipeWriter();
        var context = new DefaultHttpContext();
        context.Features.Set<IHttpResponseBodyFeature>(new PipeBodyFeature(pipe));
        return (context, pipe);
    }

    /// <summary>Keeps what each flush sent, and lets a test wait for the next flush.</summary>
    private sealed class RecordingPipeWriter : PipeWriter
    {
        private readonly List<byte> _pending = [];
        private readonly object _gate = new();
        private readonly Queue<TaskCompletionSource<byte[]>> _waiters = new();
        private int _seen;
        private Memory<byte> _lastMemory;

        public List<byte[]> Flushes { get; } = [];

        public Task<byte[]> NextFlushAsync()
        {
            lock (_gate)
            {
                if (_seen < Flushes.Count)
                {
                    return Task.FromResult(Flushes[_seen++]);
                }

                var waiter = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Enqueue(waiter);
                return waiter.Task;
            }
        }

        public override void Advance(int bytes) => _pending.AddRange(_lastMemory[..bytes].ToArray());

        public override Memory<byte> GetMemory(int sizeHint = 0) => _lastMemory = new byte[Math.Max(sizeHint, 4096)];

        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            lock (_gate)
            {
                var sent = _pending.ToArray();
                _pending.Clear();
                Flushes.Add(sent);
                if (_waiters.TryDequeue(out var waiter))
                {
                    _seen++;
                    waiter.SetResult(sent);
                }
            }

            return ValueTask.FromResult(new FlushResult(false, false));
        }

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }
    }

    private sealed class PipeBodyFeature(PipeWriter writer) : IHttpResponseBodyFeature
    {
        public Stream Stream => writer.AsStream();

        public PipeWriter Writer => writer;

        public void DisableBuffering()
        {
        }

        public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task CompleteAsync() => Task.CompletedTask;
    }
}
