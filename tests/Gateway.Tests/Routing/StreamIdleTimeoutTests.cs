using System.Net;
using System.Text;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Router.Health;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>An upstream stream that goes silent after its first events: the idle timeout (fake clock) breaks it and the local model continues it.</summary>
public sealed class StreamIdleTimeoutTests
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(7); // a due time no other timer of the gateway uses

    [Fact]
    public async Task Upstream_silent_after_its_first_chunks_times_out_and_continues_locally_in_the_same_stream()
    {
        var time = new IdleTimerWatch(DateTimeOffset.UtcNow, IdleTimeout);
        await using var upstream = await LoopbackOpenAiUpstream.StartAsync();
        upstream.Behaviour = UpstreamBehaviour.SilentAfterChunks;
        upstream.CloseAfter = 2;
        await using var harness = new RoutingHarness
        {
            Time = time,
            Options = new() { RetryDelay = TimeSpan.Zero, MaxRetryAttempts = 3, StreamIdleTimeout = IdleTimeout },
        };
        harness.Clouds.Add(("cloud-a", upstream, 0.95, "sk-a"));
        await harness.StartAsync();

        using var response = await harness.Http.SendAsync(RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream: true), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var received = new StringBuilder();
        while (!received.ToString().Contains("c1 ", StringComparison.Ordinal))
        {
            received.Append(await reader.ReadLineAsync()).Append('\n');
        }

        // The relay passed on the last chunk the upstream will send and is now waiting on it: let the silence last.
        await time.WhenArmed();
        time.Advance(IdleTimeout + TimeSpan.FromSeconds(1));
        received.Append(await reader.ReadToEndAsync());
        var body = received.ToString();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        var events = Sse.ParseStrict(body);
        Assert.Equal("c0 c1 Hello world", Sse.Text(events));
        Assert.All(events, e => Assert.Equal("chatcmpl-upstream-1", e.GetProperty("id").GetString()));
        Assert.Equal("stop", Sse.FinishReason(events));
        Assert.EndsWith("c0 c1 ", harness.Engine.Model.LastRequest!.Prompt); // continued from the partial text
        Assert.Single(upstream.ChatRequests); // never retried after the first byte
        Assert.Equal(BackendFailureKind.StreamCut, harness.Health.Get("cloud-a").LastFailure);
    }
}

/// <summary>
/// A fake clock that knows when a timer with one due time (the stream idle timeout) is armed and not yet
/// disposed, so a test advances time exactly while the relay waits on a silent upstream (no sleeps, no polling).
/// </summary>
internal sealed class IdleTimerWatch(DateTimeOffset start, TimeSpan watched) : FakeTimeProvider(start)
{
    private readonly Lock _lock = new();
    private int _live;
    private TaskCompletionSource _armed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a watched timer is live (at once if one is).</summary>
    public Task WhenArmed()
    {
        lock (_lock)
        {
            return _armed.Task;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        if (dueTime != watched)
        {
            return timer;
        }

        lock (_lock)
        {
            _live++;
            _armed.TrySetResult();
        }

        return new Watched(timer, this);
    }

    private void Released()
    {
        lock (_lock)
        {
            if (--_live == 0)
            {
                _armed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    private sealed class Watched(ITimer inner, IdleTimerWatch owner) : ITimer
    {
        private int _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                inner.Dispose();
                owner.Released();
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
