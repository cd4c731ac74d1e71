using InferenceMesh.Engine.Native;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Scheduling;

/// <summary>The decode thread count of both contexts, as <see cref="DecodeThreadGovernor"/> chooses it.</summary>
internal sealed partial class BatchScheduler
{
    private int _decodeThreads;
    private long _decodeThreadSwitches;
    private int _pinnedDecodeThreads;
    private int _alternateDecodeThreads;
    private long _contextThreadChanges;

    /// <summary>The thread count decoding runs at now: the configured one, or 1 while the machine's cores are busy.</summary>
    public int DecodeThreads => Volatile.Read(ref _decodeThreads) is var threads and > 0 ? threads : _settings.Threads;

    /// <summary>How often decoding moved between the configured thread count and one thread.</summary>
    public long DecodeThreadSwitches => Interlocked.Read(ref _decodeThreadSwitches);

    /// <summary>How often a context's thread count was changed (both contexts; governor and pins alike).</summary>
    internal long ContextThreadChanges => Interlocked.Read(ref _contextThreadChanges);

    /// <summary>The thread count for the next decode of either context: the pinned one, else the governor's.</summary>
    private int CurrentDecodeThreads => Volatile.Read(ref _pinnedDecodeThreads) is var pinned and > 0 ? pinned : _governor.Threads;

    /// <summary>
    /// Makes the next decodes run on <paramref name="threads"/> threads whatever the governor says (0 gives the
    /// choice back to it). For tests of the switch itself; the governor is not told about pinned steps.
    /// </summary>
    internal void PinDecodeThreads(int threads) => Volatile.Write(ref _pinnedDecodeThreads, Math.Clamp(threads, 0, _settings.Threads));

    /// <summary>
    /// Makes decoding alternate between the configured count and one thread every <paramref name="steps"/> decodes, on
    /// the scheduler thread itself (0 stops it): a switch mid-generation that does not depend on when a reader gets to
    /// run. For tests of the switch; it overrides <see cref="PinDecodeThreads"/>.
    /// </summary>
    internal void AlternateDecodeThreads(int steps) => Volatile.Write(ref _alternateDecodeThreads, Math.Max(0, steps));

    /// <summary>The test hooks' thread count for the next decode, or 0 when the governor decides.</summary>
    private int ForcedDecodeThreads() => Volatile.Read(ref _alternateDecodeThreads) is var every and > 0
        ? (Interlocked.Read(ref _decodeCalls) / every % 2 == 0 ? _settings.Threads : 1)
        : Volatile.Read(ref _pinnedDecodeThreads);

    /// <summary>
    /// Runs the next decodes of <paramref name="context"/> on <paramref name="threads"/> threads. One thread decodes
    /// without the pool (ggml then computes on the calling thread alone, without creating threads, and sends the pool's
    /// workers to sleep instead of waking them for every graph); the full count uses the pool again.
    /// </summary>
    private void SetDecodeThreads(SafeLlamaContextHandle context, ref int applied, int threads)
    {
        if (applied == threads)
        {
            return;
        }

        if (_threadpool is not null)
        {
            if (threads == 1)
            {
                LlamaNative.llama_detach_threadpool(context);
            }
            else
            {
                var pool = _threadpool.DangerousGetHandle();
                LlamaNative.llama_attach_threadpool(context, pool, pool);
            }
        }

        LlamaNative.llama_set_n_threads(context, threads, threads);
        applied = threads;
        Interlocked.Increment(ref _contextThreadChanges);
    }

    [LoggerMessage(EventId = 2006, Level = LogLevel.Information, Message = "Model {ModelId} now decodes on {Threads} thread(s): {Reason}")]
    private static partial void LogDecodeThreadsChanged(ILogger logger, string modelId, int threads, string reason);
}
