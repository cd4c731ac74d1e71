namespace InferenceMesh.Engine.Scheduling;

/// <summary>
/// Chooses how many threads each <c>llama_decode</c> uses, so that a busy machine does not make decoding collapse.
/// <para>
/// ggml's CPU threads meet at a spinning barrier many times per token. When the cores are taken by other work (a build
/// beside the IDE that asks for completions), one decode thread is descheduled while the others spin for it, and a
/// step takes many time slices: on 2 cores with about 20 runnable threads elsewhere, 2 decode threads made a token
/// 10-20 times slower than 1 thread (bench/README.md, "A busy machine"). One thread has no barrier to wait at.
/// </para>
/// <para>
/// The rule uses only the decodes' own times (never the load average), of generation steps (one token per sequence,
/// no prompt chunk), compared as medians of <see cref="Window"/> steps of the same batch size:
/// </para>
/// <list type="bullet">
/// <item>At the full count, a median 25 % slower than one thread would be, for <see cref="SustainedSteps"/> steps in a row,
/// moves decoding to one thread. One thread's time is its recent median when known, else the full count's best time
/// times the thread count. A burst of slow steps shorter than that (the JIT compiling in the background, another
/// process waking) changes nothing: on an idle machine such bursts sent decoding to one thread several times a
/// minute.</item>
/// <item>Where that estimate cannot see it (the machine was busy from the first step), a probe of <see cref="Window"/>
/// steps on one thread every <see cref="DownProbeInterval"/> of decoding (time spent in measured decodes, so the idle
/// gaps between requests bring no probes) measures one thread's time for the rule above.</item>
/// <item>On one thread, after a probe interval (0.5 s, doubling up to 8 s while the probes lose),
/// <see cref="UpProbeSteps"/> steps run at the full count; when their median beats one thread's, decoding goes back
/// to the full count. Coming back needs less than leaving (any gain against 20 %), so where the two counts are close
/// (small models at one stream) the configured count is where it settles, and a switch made on a misleading start
/// (the first steps after a load run slow while the JIT and the caches warm up) is undone at the first probe.</item>
/// </list>
/// On an unloaded machine the full count stays; its only cost is the down-probe, a few steps per half minute of decoding.
/// Not thread-safe: the scheduler thread alone calls it.
/// </summary>
internal sealed class DecodeThreadGovernor
{
    /// <summary>Steps of one batch size whose median stands for a thread count.</summary>
    internal const int Window = 5;

    /// <summary>
    /// Measured steps in a row whose window is slower than one thread before the full count gives way. A burst of k
    /// slow steps keeps the window's median slow for k steps, so bursts shorter than this change nothing.
    /// </summary>
    internal const int SustainedSteps = 2 * Window;

    /// <summary>Steps at the full count that make one probe from one thread.</summary>
    internal const int UpProbeSteps = 3;

    internal static readonly TimeSpan FirstUpProbeInterval = TimeSpan.FromMilliseconds(500);
    internal static readonly TimeSpan LongestUpProbeInterval = TimeSpan.FromSeconds(8);
    internal static readonly TimeSpan DownProbeInterval = TimeSpan.FromSeconds(30);

    /// <summary>A probe that could not compare (the batch size changed under it) is tried again this much later.</summary>
    internal static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a median is trusted.</summary>
    internal static readonly TimeSpan Freshness = TimeSpan.FromSeconds(10);

    /// <summary>How far the best full-count time may rise per step (a longer context makes steps slower).</summary>
    private const double BestDrift = 1.01;

    /// <summary>One thread must be this much faster to take over.</summary>
    private const double DownMargin = 1.25;


    private readonly TimeProvider _time;
    private readonly StepHistory _full;
    private readonly StepHistory _single;
    private readonly Dictionary<int, double> _bestFull = [];
    private readonly List<double> _probe = [];
    private TimeSpan _upProbeInterval = FirstUpProbeInterval;
    private long _probeDue;
    private double _decoded;
    private double _downProbeDue;
    private int _pendingBatch;
    private bool _pendingMeasured;
    private int _pendingThreads;
    private int _probeCount;
    private int _slowSteps;

    public DecodeThreadGovernor(int maxThreads, TimeProvider time)
    {
        MaxThreads = Math.Max(1, maxThreads);
        Threads = MaxThreads;
        _time = time;
        var fresh = Ticks(Freshness);
        _full = new StepHistory(fresh);
        _single = new StepHistory(fresh);
        _probeDue = time.GetTimestamp();
    }

    public int MaxThreads { get; }

    /// <summary>The thread count decoding runs at (probes aside).</summary>
    public int Threads { get; private set; }

    /// <summary>How often decoding moved between the full count and one thread.</summary>
    public long Switches { get; private set; }

    /// <summary>How many probe steps ran at the other thread count.</summary>
    public long ProbeSteps { get; private set; }

    /// <summary>The last change and its reason, for the log; null until the first one.</summary>
    public string? LastReason { get; private set; }

    /// <summary>
    /// The thread count for the next decode, of <paramref name="batchSize"/> tokens. Only generation steps
    /// (<paramref name="generationOnly"/>) are measured and may probe.
    /// </summary>
    public int NextStep(int batchSize, bool generationOnly)
    {
        _pendingBatch = batchSize;
        _pendingMeasured = generationOnly && MaxThreads > 1;
        _pendingThreads = Threads;
        var probeDue = Threads == 1 ? Now >= _probeDue : _decoded >= _downProbeDue;
        if (_pendingMeasured && probeDue && Current.Median(batchSize, Now) is not null)
        {
            _pendingThreads = Threads == 1 ? MaxThreads : 1;
            ProbeSteps++;
        }

        return _pendingThreads;
    }

    /// <summary>Records how long the decode announced by <see cref="NextStep"/> took; true when <see cref="Threads"/> changed.</summary>
    public bool Completed(TimeSpan elapsed)
    {
        if (!_pendingMeasured)
        {
            return false;
        }

        _pendingMeasured = false;
        var seconds = elapsed.TotalSeconds;
        var batch = _pendingBatch;
        _decoded += seconds;
        if (_pendingThreads == MaxThreads)
        {
            _bestFull[batch] = _bestFull.TryGetValue(batch, out var best) ? Math.Min(seconds, best * BestDrift) : seconds;
        }

        if (_pendingThreads != Threads)
        {
            return Threads == 1 ? ProbedUp(batch, seconds) : ProbedDown(batch, seconds);
        }

        Current.Add(batch, seconds, Now);
        if (Threads == 1 || _full.Median(batch, Now) is not { } full)
        {
            return false;
        }

        var measured = _single.Median(batch, Now);
        var single = measured ?? _bestFull[batch] * MaxThreads;
        if (full <= single * DownMargin)
        {
            _slowSteps = 0;
            return false;
        }

        // Slow for a whole window of steps in a row, not a burst: a few slow steps (the JIT compiling in the
        // background, a client's process waking) would otherwise send an idle machine to one thread for a probe
        // interval at a time (bench/README.md, local inference, "Stop 20").
        return ++_slowSteps >= SustainedSteps
            && SwitchTo(1, $"{MaxThreads} threads took {Ms(full)} per step against {Ms(single)} {(measured is null ? "estimated" : "measured")} for 1 thread (batch of {batch})");
    }

    private StepHistory Current => Threads == 1 ? _single : _full;

    private bool ProbedDown(int batch, double seconds)
    {
        _single.Add(batch, seconds, Now);
        if (++_probeCount < Window)
        {
            return false;
        }

        _probeCount = 0;
        if (_single.Median(batch, Now) is null || _full.Median(batch, Now) is null)
        {
            _downProbeDue = _decoded + RetryInterval.TotalSeconds;
            return false;
        }

        // A probe that wins does not switch by itself (the window of the full count it is compared with may hold a
        // burst): it gives the full count's rule above a measured time for one thread, and that rule switches once
        // the full count is still slower than it for a whole window of steps.
        _slowSteps = 0;
        _downProbeDue = _decoded + DownProbeInterval.TotalSeconds;
        return false;
    }

    private bool ProbedUp(int batch, double seconds)
    {
        _probe.Add(seconds);
        if (_probe.Count < UpProbeSteps)
        {
            return false;
        }

        _probe.Sort();
        var median = _probe[UpProbeSteps / 2];
        _probe.Clear();
        if (_single.Median(batch, Now) is not { } single)
        {
            _probeDue = Now + Ticks(RetryInterval);
            return false;
        }

        if (median < single)
        {
            return SwitchTo(MaxThreads, $"{MaxThreads} threads took {Ms(median)} per step against {Ms(single)} for 1 thread (batch of {batch})");
        }

        _upProbeInterval = TimeSpan.FromTicks(Math.Min(_upProbeInterval.Ticks * 2, LongestUpProbeInterval.Ticks));
        _probeDue = Now + Ticks(_upProbeInterval);
        return false;
    }

    private bool SwitchTo(int threads, string reason)
    {
        Threads = threads;
        Switches++;
        LastReason = reason;
        _probe.Clear();
        _probeCount = 0;
        _slowSteps = 0;
        if (threads == 1)
        {
            _full.Clear();
            _upProbeInterval = FirstUpProbeInterval;
            _probeDue = Now + Ticks(_upProbeInterval);
        }
        else
        {
            _single.Clear();
            _downProbeDue = _decoded + DownProbeInterval.TotalSeconds;
        }

        return true;
    }

    private long Now => _time.GetTimestamp();

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private static string Ms(double seconds) => $"{seconds * 1000:0.0} ms";

    /// <summary>The last <see cref="Window"/> measured steps of one thread count.</summary>
    private sealed class StepHistory(long freshTicks)
    {
        private readonly (int Batch, double Seconds, long At)[] _steps = new (int, double, long)[Window];
        private readonly double[] _scratch = new double[Window];
        private int _count;
        private int _next;

        public void Add(int batch, double seconds, long at)
        {
            _steps[_next] = (batch, seconds, at);
            _next = (_next + 1) % Window;
            _count = Math.Min(_count + 1, Window);
        }

        public void Clear() => _count = 0;

        /// <summary>
        /// The median of the window when every step in it had this batch size and is fresh, else null (a window that
        /// mixes sizes or ages says nothing about one size now).
        /// </summary>
        public double? Median(int batch, long now)
        {
            if (_count < Window)
            {
                return null;
            }

            for (var i = 0; i < Window; i++)
            {
                var step = _steps[i];
                if (step.Batch != batch || now - step.At > freshTicks)
                {
                    return null;
                }

                _scratch[i] = step.Seconds;
            }

            Array.Sort(_scratch);
            return _scratch[Window / 2];
        }
    }
}
