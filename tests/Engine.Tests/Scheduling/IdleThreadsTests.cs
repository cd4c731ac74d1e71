using InferenceMesh.Engine.Hosting;

namespace InferenceMesh.Engine.Tests.Scheduling;

public class IdleThreadsTests
{
    /// <summary>
    /// At ggml's polling level 100 (the engine's default) a decode worker spins for the next step for a while after
    /// the last one (about 280 ms on the benchmark machine, state R all along) before it sleeps; after every request
    /// that took a core from everything else on the machine. Once the scheduler has nothing to decode it pauses the
    /// pool, and a paused worker sleeps on ggml's condition variable (state S) until the next decode.
    /// </summary>
    [Fact]
    public async Task Decode_threads_sleep_as_soon_as_nothing_is_left_to_decode()
    {
        await using var engine = await EngineHarness.StartAsync(new EngineOptions { Slots = 2, SlotContextLength = 256, ThreadpoolPoll = 100 }, threads: 2);
        var model = (LlamaLoadedModel)engine.Model;
        var name = model.DecodeThreadName;
        Assert.NotNull(name);

        for (var round = 0; round < 3; round++)
        {
            var pauses = model.DecodePoolPauses;
            var (_, outcome) = await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 48));
            Assert.Null(outcome.Failure);

            // The answer is complete a moment before the scheduler finds nothing left and pauses the pool.
            Assert.True(SpinWait.SpinUntil(() => model.DecodePoolPauses > pauses, TimeSpan.FromSeconds(10)), "the scheduler never paused the pool");
            var workers = ThreadsNamed(name);
            Assert.NotEmpty(workers); // with 2 threads: the pool's one worker (the scheduler's thread is the other)

            // A paused worker goes to sleep as soon as it next runs; an unpaused one keeps spinning for its polling time.
            Assert.True(SpinWait.SpinUntil(() => workers.All(w => State(w) == 'S'), TimeSpan.FromMilliseconds(100)),
                $"round {round}: the decode workers still run after the pool was paused (states {string.Join(",", workers.Select(State))})");
        }
    }

    private static List<string> ThreadsNamed(string name) =>
        [.. Directory.EnumerateDirectories("/proc/self/task")
            .Where(task => File.Exists(Path.Combine(task, "comm")) && ReadOrEmpty(Path.Combine(task, "comm")).Trim() == name)];

    /// <summary>The thread's scheduler state from /proc/self/task/TID/stat (R running, S sleeping, …), '?' once it ended.</summary>
    private static char State(string task)
    {
        var stat = ReadOrEmpty(Path.Combine(task, "stat"));
        var afterName = stat.LastIndexOf(')');
        return afterName >= 0 && afterName + 2 < stat.Length ? stat[afterName + 2] : '?';
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return string.Empty; // the thread ended
        }
    }
}
