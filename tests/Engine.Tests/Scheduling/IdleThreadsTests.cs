using System.Globalization;
using InferenceMesh.Engine.Hosting;

namespace InferenceMesh.Engine.Tests.Scheduling;

public class IdleThreadsTests
{
    /// <summary>
    /// At ggml's polling level 100 (the engine's default) a decode worker spins for the next step for a while after
    /// the last one (about a third of a second on the benchmark machine) before it sleeps; after every request that
    /// took a core from everything else on the machine. Once the scheduler has nothing to decode it pauses the pool.
    /// The window below is a measurement, not a wait for a result: the workers' CPU time while nothing is decoded.
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
            var before = CpuTicks(workers);

            await Task.Delay(TimeSpan.FromMilliseconds(400));

            var spent = CpuTicks(workers) - before;
            // Spinning for its polling time costs the worker 15–35 ticks (10 ms each) here; asleep it costs none.
            Assert.True(spent <= 3, $"round {round}: the idle decode workers used {spent * 10} ms of CPU in 400 ms");
        }
    }

    private static List<string> ThreadsNamed(string name) =>
        [.. Directory.EnumerateDirectories("/proc/self/task")
            .Where(task => File.Exists(Path.Combine(task, "comm")) && ReadOrEmpty(Path.Combine(task, "comm")).Trim() == name)];

    /// <summary>utime + stime of the threads, in clock ticks (/proc/self/task/TID/stat fields 14 and 15).</summary>
    private static long CpuTicks(IEnumerable<string> tasks) => tasks.Sum(task =>
    {
        var stat = ReadOrEmpty(Path.Combine(task, "stat"));
        var afterName = stat.LastIndexOf(')');
        if (afterName < 0)
        {
            return 0L;
        }

        var fields = stat[(afterName + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    });

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
