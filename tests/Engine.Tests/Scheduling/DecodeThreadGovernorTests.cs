using InferenceMesh.Engine.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.Engine.Tests.Scheduling;

/// <summary>
/// The governor's rule on made-up step times: a fake clock moves by each step's duration, as a real scheduler's
/// would, so probe intervals and freshness behave as on a machine.
/// </summary>
public class DecodeThreadGovernorTests
{
    private const double Fast = 0.005;   // 2 threads on free cores
    private const double Single = 0.009; // 1 thread on free cores
    private const double Contended = 0.100; // 2 threads while the cores are busy
    private const double SingleContended = 0.030; // 1 thread while the cores are busy

    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void On_free_cores_the_full_count_stays_and_probing_costs_a_few_steps_per_half_minute()
    {
        var governor = new DecodeThreadGovernor(2, _time);

        var single = Run(governor, steps: 20_000, batch: 1, full: Fast, single: Single); // 100 s of decoding

        Assert.Equal(2, governor.Threads);
        Assert.Equal(0, governor.Switches);
        // The first probe comes after the first window, then one every 30 s: 4 probes of 5 steps.
        Assert.InRange(single, DecodeThreadGovernor.Window, 4 * DecodeThreadGovernor.Window);
        Assert.Equal(single, governor.ProbeSteps);
    }

    [Fact]
    public void Idle_time_between_requests_brings_no_probes()
    {
        var governor = new DecodeThreadGovernor(2, _time);
        Run(governor, steps: 64, batch: 1, full: Fast, single: Single); // the first request has the first probe
        var afterFirst = governor.ProbeSteps;
        Assert.Equal(DecodeThreadGovernor.Window, afterFirst);

        // 20 more requests of 64 tokens, a minute apart: 6.4 s of decoding in 20 minutes.
        for (var request = 0; request < 20; request++)
        {
            _time.Advance(TimeSpan.FromMinutes(1));
            Run(governor, steps: 64, batch: 1, full: Fast, single: Single);
        }

        Assert.Equal(afterFirst, governor.ProbeSteps);
        Assert.Equal(2, governor.Threads);
    }

    [Fact]
    public void When_the_cores_become_busy_decoding_moves_to_one_thread_within_three_windows()
    {
        var governor = new DecodeThreadGovernor(2, _time);
        Run(governor, steps: 2_000, batch: 1, full: Fast, single: Single);
        Assert.Equal(2, governor.Threads);

        var slowSteps = 0;
        while (governor.Threads == 2 && slowSteps < 50)
        {
            Step(governor, 1, full: Contended, single: SingleContended);
            slowSteps++;
        }

        Assert.Equal(1, governor.Threads);
        // The window's median turns slow at the third slow step; then it must stay slow for SustainedSteps steps.
        Assert.InRange(slowSteps, DecodeThreadGovernor.SustainedSteps, DecodeThreadGovernor.SustainedSteps + DecodeThreadGovernor.Window);
        Assert.Contains("2 threads took 100.0 ms", governor.LastReason);
    }

    [Fact]
    public void One_slow_step_among_fast_ones_changes_nothing()
    {
        var governor = new DecodeThreadGovernor(2, _time);
        Run(governor, steps: 500, batch: 1, full: Fast, single: Single);

        for (var i = 0; i < 200; i++)
        {
            Step(governor, 1, full: i % 3 == 0 ? Contended : Fast, single: Single);
        }

        Assert.Equal(2, governor.Threads);
        Assert.Equal(0, governor.Switches);
    }

    [Fact]
    public void Busy_cores_from_the_very_first_step_are_found_by_the_probe()
    {
        // The best time at 2 threads is itself slow, so the estimate for one thread (2 × best) cannot see it.
        var governor = new DecodeThreadGovernor(2, _time);

        Run(governor, steps: 40, batch: 1, full: Contended, single: SingleContended);

        Assert.Equal(1, governor.Threads);
        Assert.Equal("2 threads took 100.0 ms per step against 30.0 ms measured for 1 thread (batch of 1)", governor.LastReason);
    }

    [Fact]
    public void Bursts_of_slow_steps_shorter_than_the_sustained_count_change_nothing()
    {
        // On an idle machine the JIT compiling in the background, or a client's process waking, slows a few steps
        // in a row; that is no reason to decode on one thread for the next half second.
        var governor = new DecodeThreadGovernor(2, _time);
        Run(governor, steps: 500, batch: 1, full: Fast, single: Single);

        for (var burst = 0; burst < 40; burst++)
        {
            Run(governor, steps: DecodeThreadGovernor.SustainedSteps - 1, batch: 1, full: Contended, single: SingleContended);
            Run(governor, steps: 50, batch: 1, full: Fast, single: Single);
        }

        Assert.Equal(2, governor.Threads);
        Assert.Equal(0, governor.Switches);
    }

    [Fact]
    public void A_probe_compared_with_a_burst_does_not_switch()
    {
        // The first probe comes right after the first window; here that window was a burst (a cold start).
        var governor = new DecodeThreadGovernor(2, _time);
        Run(governor, steps: DecodeThreadGovernor.Window, batch: 1, full: Contended, single: SingleContended);

        var onOne = Run(governor, steps: 2_000, batch: 1, full: Fast, single: Single);

        Assert.Equal(2, governor.Threads);
        Assert.Equal(0, governor.Switches);
        Assert.True(onOne <= 2 * DecodeThreadGovernor.Window, $"{onOne} steps on one thread: only probes expected");
    }

    [Fact]
    public void When_the_cores_are_free_again_the_full_count_comes_back()
    {
        var governor = new DecodeThreadGovernor(2, _time);
        Run(governor, steps: 500, batch: 1, full: Fast, single: Single);
        Run(governor, steps: 200, batch: 1, full: Contended, single: SingleContended);
        Assert.Equal(1, governor.Threads);

        // Free cores: one thread's steps get fast, and the next probe at 2 threads beats them.
        var steps = Run(governor, steps: 2_000, batch: 1, full: Fast, single: Single, untilThreads: 2);

        Assert.Equal(2, governor.Threads);
        Assert.True(steps < 2_000, "never went back to 2 threads");
        Assert.Equal(2, governor.Switches);
    }

    [Fact]
    public void A_switch_made_on_a_slow_start_is_undone_where_the_counts_are_close()
    {
        // Seen on the 134M model at one stream: the first steps after the load take 9 ms at 2 threads, so the first
        // probe finds 1 thread faster; warm, 2 threads take 6.4 ms and 1 thread 7.0 ms.
        var governor = new DecodeThreadGovernor(2, _time);
        Run(governor, steps: 5 * DecodeThreadGovernor.Window, batch: 1, full: 0.009, single: 0.006);
        Assert.Equal(1, governor.Threads);

        Run(governor, steps: 2_000, batch: 1, full: 0.0064, single: 0.0070);

        Assert.Equal(2, governor.Threads);
        Assert.Equal(2, governor.Switches); // back once, and it stays: one thread is not 20 % faster
    }

    [Fact]
    public void Probes_that_lose_come_ever_less_often_up_to_the_longest_interval()
    {
        var governor = new DecodeThreadGovernor(2, _time);
        Run(governor, steps: 100, batch: 1, full: Contended, single: SingleContended);
        Assert.Equal(1, governor.Threads);

        var probesBefore = governor.ProbeSteps;
        var seconds = 120.0;
        Run(governor, steps: (int)(seconds / SingleContended), batch: 1, full: Contended, single: SingleContended);
        var probes = (governor.ProbeSteps - probesBefore) / DecodeThreadGovernor.UpProbeSteps;

        Assert.Equal(1, governor.Threads);
        // 0.5, 1, 2, 4, 8 s, then every 8 s: about 5 + 15 probes in two minutes, not one per half second.
        var atLongest = seconds / DecodeThreadGovernor.LongestUpProbeInterval.TotalSeconds;
        Assert.InRange(probes, atLongest - 2, atLongest + 6);
    }

    [Fact]
    public void Prompt_steps_are_neither_measured_nor_probed()
    {
        var governor = new DecodeThreadGovernor(2, _time);
        for (var i = 0; i < 1_000; i++)
        {
            Assert.Equal(2, governor.NextStep(512, generationOnly: false));
            _time.Advance(TimeSpan.FromSeconds(Contended * 20));
            Assert.False(governor.Completed(TimeSpan.FromSeconds(Contended * 20)));
        }

        Assert.Equal(0, governor.ProbeSteps);
        Assert.Equal(2, governor.Threads);
    }

    [Fact]
    public void A_window_of_mixed_batch_sizes_decides_nothing()
    {
        var governor = new DecodeThreadGovernor(2, _time);
        Run(governor, steps: 200, batch: 1, full: Fast, single: Single);

        // Every other step has another size: no window of one size ever fills.
        for (var i = 0; i < 200; i++)
        {
            Step(governor, 1 + (i % 2), full: Contended, single: SingleContended);
        }

        Assert.Equal(2, governor.Threads);
    }

    [Fact]
    public void One_configured_thread_is_always_one()
    {
        var governor = new DecodeThreadGovernor(1, _time);

        Run(governor, steps: 1_000, batch: 1, full: Contended, single: SingleContended);

        Assert.Equal(1, governor.Threads);
        Assert.Equal(0, governor.ProbeSteps);
        Assert.Equal(0, governor.Switches);
    }

    /// <summary>Runs generation steps; returns how many ran on one thread (or, with untilThreads, how many ran until that count).</summary>
    private int Run(DecodeThreadGovernor governor, int steps, int batch, double full, double single, int? untilThreads = null)
    {
        var onOne = 0;
        for (var i = 0; i < steps; i++)
        {
            if (untilThreads == governor.Threads)
            {
                return i;
            }

            onOne += Step(governor, batch, full, single) == 1 ? 1 : 0;
        }

        return onOne;
    }

    private int Step(DecodeThreadGovernor governor, int batch, double full, double single)
    {
        var threads = governor.NextStep(batch, generationOnly: true);
        var seconds = threads == 1 ? single : full;
        _time.Advance(TimeSpan.FromSeconds(seconds));
        governor.Completed(TimeSpan.FromSeconds(seconds));
        return threads;
    }
}
