using System.Collections.Concurrent;
using System.Diagnostics;
using InferenceMesh.Engine.Native;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Scheduling;

/// <summary>Fixed settings of one scheduler.</summary>
internal sealed record SchedulerSettings(
    string ModelId,
    int Slots,
    int SlotContextLength,
    int BatchSize,
    int QueueLimit,
    bool PrefixReuse,
    int Threads,
    bool AdaptiveThreads = true);

/// <summary>
/// Continuous batching for one loaded model. One dedicated thread owns the llama.cpp context: each
/// <c>llama_decode</c> carries the next token of every generating sequence plus prompt chunks of newly
/// arrived ones (chunked prefill), so a long prompt never stalls running streams. Other threads only
/// enqueue work and set cancel flags; nothing else touches the context.
/// </summary>
internal sealed partial class BatchScheduler : IDisposable
{
    private readonly SchedulerSettings _settings;
    private readonly SafeLlamaModelHandle _model;
    private readonly SafeLlamaContextHandle _context;
    private readonly SafeGgmlThreadpoolHandle? _threadpool;
    private readonly IntPtr _vocab;
    private readonly IntPtr _memory;
    private readonly Func<SafeLlamaContextHandle?> _embeddingContextFactory;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<Sequence> _incoming = new();
    private readonly ConcurrentQueue<EmbeddingJob> _embeddingJobs = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly Slot[] _slots;
    private readonly List<Sequence> _waiting = [];
    private readonly LlamaBatchBuffer _batch;
    private readonly List<(Sequence Sequence, int BatchIndex)> _outputs = [];
    private readonly List<(Sequence Sequence, int Count)> _prefillChunks = [];
    private readonly List<Sequence> _generating = [];
    private readonly List<Sequence> _prefilling = [];
    private readonly byte[] _pieceBuffer = new byte[256];
    private SafeLlamaContextHandle? _embeddingContext;
    private int _queued;
    private int _active;
    private volatile bool _stopping;
    private long _lastUse;
    private long _promptTokensReused;
    private long _decodeCalls;
    private long _mixedDecodeCalls;
    private readonly DecodeThreadGovernor _governor;
    private int _contextThreads;

    public BatchScheduler(
        SchedulerSettings settings,
        SafeLlamaModelHandle model,
        SafeLlamaContextHandle context,
        SafeGgmlThreadpoolHandle? threadpool,
        Func<SafeLlamaContextHandle?> embeddingContextFactory,
        ILogger logger)
    {
        _threadpool = threadpool;
        _settings = settings;
        _governor = new DecodeThreadGovernor(settings.Threads, TimeProvider.System);
        _contextThreads = _embeddingThreads = _governor.MaxThreads;
        _model = model;
        _context = context;
        _vocab = LlamaNative.llama_model_get_vocab(model);
        _memory = LlamaNative.llama_get_memory(context);
        _embeddingContextFactory = embeddingContextFactory;
        _logger = logger;
        _slots = new Slot[settings.Slots];
        for (var i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new Slot(i);
        }

        _batch = new LlamaBatchBuffer(Math.Max(settings.BatchSize, settings.Slots), settings.Slots);
        _lastUse = Stopwatch.GetTimestamp();
        _thread = new Thread(Run) { IsBackground = true, Name = $"im-scheduler:{settings.ModelId}" };
        _thread.Start();
    }

    public SchedulerSettings Settings => _settings;

    public int ActiveSequences => Volatile.Read(ref _active);

    public int QueuedSequences => Volatile.Read(ref _queued);

    /// <summary>Whether nothing runs or waits (the model may be unloaded).</summary>
    public bool IsIdle => ActiveSequences == 0 && QueuedSequences == 0 && _embeddingJobs.IsEmpty && _adapterWork.IsEmpty;

    public long LastUseTimestamp => Interlocked.Read(ref _lastUse);

    /// <summary>The OS name of the decode pool's worker threads, or null without a persistent pool.</summary>
    public string? DecodeThreadName => _threadpool?.ThreadName;

    /// <summary>How often the decode pool was sent to sleep because nothing was left to decode.</summary>
    public long DecodePoolPauses => Interlocked.Read(ref _poolPauses);

    private long _poolPauses;

    /// <summary>Queues a sequence; fails when the scheduler is stopping or the queue is full.</summary>
    public EngineFailure? TryEnqueue(Sequence sequence)
    {
        if (_stopping)
        {
            return new EngineFailure(EngineError.ShuttingDown, "The engine is shutting down.");
        }

        var queued = Interlocked.Increment(ref _queued);
        var freeSlots = _settings.Slots - ActiveSequences;
        if (queued > freeSlots + _settings.QueueLimit)
        {
            Interlocked.Decrement(ref _queued);
            return new EngineFailure(
                EngineError.Overloaded,
                $"All {_settings.Slots} slots of model '{_settings.ModelId}' are busy and {_settings.QueueLimit} requests are already waiting; retry later.");
        }

        Interlocked.Exchange(ref _lastUse, Stopwatch.GetTimestamp());
        _incoming.Enqueue(sequence);
        Wake();
        return null;
    }

    public void EnqueueEmbedding(EmbeddingJob job)
    {
        if (_stopping)
        {
            job.Completion.TrySetResult(EngineResult<EmbeddingResult>.Fail(EngineError.ShuttingDown, "The engine is shutting down."));
            return;
        }

        Interlocked.Exchange(ref _lastUse, Stopwatch.GetTimestamp());
        _embeddingJobs.Enqueue(job);
        Wake();
    }

    /// <summary>Wakes the scheduler thread (new work or a cancel request).</summary>
    public void Wake() => _wake.Release();

    public SchedulerStatus GetStatus()
    {
        var states = new SlotStatus[_slots.Length];
        for (var i = 0; i < _slots.Length; i++)
        {
            states[i] = _slots[i].Snapshot();
        }

        return new SchedulerStatus(
            _settings.ModelId, _settings.Slots, _settings.SlotContextLength, ActiveSequences, QueuedSequences, states,
            Interlocked.Read(ref _promptTokensReused), Interlocked.Read(ref _decodeCalls),
            Volatile.Read(ref _loadedAdapters), Interlocked.Read(ref _adapterSwitches), Interlocked.Read(ref _mixedDecodeCalls),
            DecodeThreads, DecodeThreadSwitches);
    }

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        Wake();
        _thread.Join();
        RunAdapterWork(); // posted after the thread's last look: nobody waits forever
        _batch.Dispose();
        _embeddingBatch?.Dispose();
        _embeddingContext?.Dispose();
        _context.Dispose();

        // After the context (which points at the applied ones), before the model (which the handles keep alive).
        _applied = AdapterSet.Empty;
        FreeAllAdapters();

        // Both contexts are freed: nothing uses the pool any more.
        _threadpool?.Dispose();
        _wake.Dispose();
    }

    private void Run()
    {
        try
        {
            while (true)
            {
                RunAdapterWork();
                // Cancelled sequences first: the slots they free go to the waiting ones in this pass (admitted after, a
                // queue behind slots that all freed at once would wait for the next wake-up, which may never come).
                DropCancelled();
                AdmitWaiting();
                if (_stopping)
                {
                    FailEverything(new EngineFailure(EngineError.ShuttingDown, "The engine is shutting down."));
                    return;
                }

                var hasEmbeddings = !_embeddingJobs.IsEmpty;
                if (_active == 0 && !hasEmbeddings && _adapterWork.IsEmpty)
                {
                    if (_wake.CurrentCount == 0)
                    {
                        // Nothing to decode: the decode threads sleep now instead of spinning for their polling time
                        // (which would take a core from the rest of the machine after every request).
                        if (_threadpool is not null)
                        {
                            _threadpool.Pause();
                            Interlocked.Increment(ref _poolPauses);
                        }
                    }

                    _wake.Wait();
                    continue;
                }

                if (hasEmbeddings)
                {
                    RunEmbeddingJobs();
                }

                if (_active > 0)
                {
                    Step();
                }

                // Drain wake-ups that only reported work we have already picked up.
                while (_wake.CurrentCount > 0 && _wake.Wait(0))
                {
                }
            }
        }
        catch (Exception ex)
        {
            // A bug, not an expected failure: end every sequence cleanly instead of hanging clients.
            LogSchedulerCrashed(_logger, _settings.ModelId, ex);
            _stopping = true;
            FailEverything(new EngineFailure(EngineError.DecodeFailed, "The local engine failed; see the gateway log."));
        }
    }

    private void AdmitWaiting()
    {
        while (_incoming.TryDequeue(out var incoming))
        {
            _waiting.Add(incoming);
        }

        for (var i = 0; i < _waiting.Count;)
        {
            var sequence = _waiting[i];
            if (sequence.CancelRequested)
            {
                _waiting.RemoveAt(i);
                Interlocked.Decrement(ref _queued);
                Complete(sequence, FinishReason.Stop, new EngineFailure(EngineError.Cancelled, "The request was cancelled."));
                continue;
            }

            var slot = ChooseSlot(sequence, out var source, out var reusable);
            if (slot is null)
            {
                return;
            }

            if (WaitsForSharedPrefill(sequence, reusable))
            {
                i++;
                continue;
            }

            _waiting.RemoveAt(i);
            Interlocked.Decrement(ref _queued);
            Interlocked.Increment(ref _active);
            Assign(sequence, slot, source, reusable);
        }
    }

    /// <summary>
    /// Picks a free slot for a prompt, preferring the cached prefix that shares most tokens with it
    /// (from any slot: llama.cpp's unified KV cache shares cells between sequences), computed under the same adapter set.
    /// </summary>
    private Slot? ChooseSlot(Sequence sequence, out Slot? source, out int reusable)
    {
        var prompt = sequence.PromptTokens;
        source = null;
        reusable = 0;
        Slot? target = null;
        if (_settings.PrefixReuse)
        {
            foreach (var candidate in _slots)
            {
                // Cells computed under another adapter set hold other K/V values: never reused.
                var common = candidate.CacheKey == sequence.Adapters.Key ? candidate.CommonPrefix(prompt) : 0;
                if (common > reusable)
                {
                    reusable = common;
                    source = candidate;
                }
            }

            // At least the last prompt token is decoded again, to get its logits; a prompt to score, all of them.
            reusable = Math.Min(reusable, sequence.Request.ScorePrompt ? 0 : prompt.Length - 1);
            if (reusable <= 0)
            {
                source = null;
                reusable = 0;
            }
            else if (source!.Active is null)
            {
                target = source;
            }
        }

        if (target is null)
        {
            // A free slot holding no cache, else the free slot used longest ago.
            foreach (var candidate in _slots)
            {
                if (candidate.Active is not null)
                {
                    continue;
                }

                if (target is null || (candidate.CachedTokens.Count == 0 && target.CachedTokens.Count > 0)
                    || (candidate.CachedTokens.Count > 0 == target.CachedTokens.Count > 0 && candidate.LastUsed < target.LastUsed))
                {
                    target = candidate;
                }
            }
        }

        return target;
    }

    /// <summary>
    /// Whether <paramref name="sequence"/> should wait for a prompt being prefilled now that shares more of its tokens than
    /// any cache holds yet (n choices of one chat prompt, a batch of completions with one prefix, requests that arrive
    /// together): it is admitted once that prefill has passed the shared part, and copies those cells instead of computing
    /// them again. It waits only for the shared tokens, never for the rest of the other prompt.
    /// </summary>
    private bool WaitsForSharedPrefill(Sequence sequence, int reusable)
    {
        if (!_settings.PrefixReuse || sequence.Request.ScorePrompt)
        {
            return false;
        }

        var prompt = sequence.PromptTokens;
        foreach (var slot in _slots)
        {
            if (slot.Active is { IsPrefilling: true } other && other.Adapters.Key == sequence.Adapters.Key)
            {
                var limit = Math.Min(other.PromptTokens.Length, prompt.Length - 1); // the last prompt token is always decoded again
                var shared = 0;
                while (shared < limit && other.PromptTokens[shared] == prompt[shared])
                {
                    shared++;
                }

                if (shared > reusable)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private void Assign(Sequence sequence, Slot slot, Slot? source, int reusable)
    {
        if (source is null || reusable == 0)
        {
            ClearSlotCache(slot);
        }
        else if (ReferenceEquals(source, slot))
        {
            LlamaNative.llama_memory_seq_rm(_memory, slot.Index, reusable, -1);
            slot.CachedTokens.RemoveRange(reusable, slot.CachedTokens.Count - reusable);
        }
        else
        {
            ClearSlotCache(slot);
            LlamaNative.llama_memory_seq_cp(_memory, source.Index, slot.Index, 0, reusable);
            slot.CachedTokens.AddRange(source.CachedTokens.Take(reusable));
        }

        slot.Active = sequence;
        slot.CacheKey = sequence.Adapters.Key;
        slot.LastUsed = Stopwatch.GetTimestamp();
        sequence.Slot = slot.Index;
        sequence.PrefillPosition = reusable;
        sequence.Past = reusable;
        sequence.ReusedPrefix = reusable;
        Interlocked.Add(ref _promptTokensReused, reusable);
        slot.State = SlotState.Prefill;
    }

    private void DropCancelled()
    {
        foreach (var slot in _slots)
        {
            if (slot.Active is { CancelRequested: true } sequence)
            {
                // The client left: its cells are freed now, not kept for reuse.
                ReleaseSlot(slot, keepCache: false);
                Complete(sequence, FinishReason.Stop, new EngineFailure(EngineError.Cancelled, "The request was cancelled."));
            }
            else if (slot.Active is { StopRequested: true, IsPrefilling: false })
            {
                // The reader found its own end (a stop string in a part of the text only it can tell): a normal finish.
                Finish(slot, FinishReason.Stop);
            }
        }
    }

    private void Step()
    {
        _batch.Clear();
        _outputs.Clear();
        _prefillChunks.Clear();
        _generating.Clear();
        _promptScoring.Clear();

        // 0. One adapter set per decode (the context's): this step decodes the sequences of one group.
        var group = PickGroup();
        Apply(group);

        // 1. One token for every generating sequence.
        foreach (var slot in _slots)
        {
            if (slot.Active is { IsPrefilling: false } sequence && sequence.Adapters.Key == group.Key)
            {
                _batch.Add(sequence.PendingToken, sequence.Past, slot.Index, true);
                _outputs.Add((sequence, _batch.Count - 1));
                _generating.Add(sequence);
            }
        }

        // 2. Prompt chunks of prefilling sequences, oldest first, in what room is left.
        var budget = _settings.BatchSize - _batch.Count;
        _prefilling.Clear();
        foreach (var slot in _slots)
        {
            if (slot.Active is { IsPrefilling: true } waiting && waiting.Adapters.Key == group.Key)
            {
                _prefilling.Add(waiting);
            }
        }

        _prefilling.Sort(static (a, b) => a.Number.CompareTo(b.Number));
        foreach (var sequence in _prefilling)
        {
            if (budget <= 0)
            {
                break;
            }

            var slot = _slots[sequence.Slot];
            var remaining = sequence.PromptTokens.Length - sequence.PrefillPosition;
            var count = Math.Min(budget, remaining);
            var scored = sequence.PromptScores is not null;
            if (scored)
            {
                _promptScoring.Add((sequence, _batch.Count, sequence.PrefillPosition, count));
            }

            for (var i = 0; i < count; i++)
            {
                var position = sequence.PrefillPosition + i;
                var last = position == sequence.PromptTokens.Length - 1;
                _batch.Add(sequence.PromptTokens[position], position, slot.Index, last || scored);
            }

            if (count == remaining)
            {
                _outputs.Add((sequence, _batch.Count - 1));
            }

            _prefillChunks.Add((sequence, count));
            budget -= count;
        }

        var pinned = ForcedDecodeThreads();
        var governed = pinned == 0 && _settings.AdaptiveThreads;
        SetDecodeThreads(_context, ref _contextThreads, pinned > 0 ? pinned : governed ? _governor.NextStep(_batch.Count, _prefillChunks.Count == 0) : _settings.Threads);
        var started = Stopwatch.GetTimestamp();
        var result = LlamaNative.llama_decode(_context, _batch.Batch);
        if (governed && _governor.Completed(Stopwatch.GetElapsedTime(started)))
        {
            Volatile.Write(ref _decodeThreads, _governor.Threads);
            Interlocked.Increment(ref _decodeThreadSwitches);
            LogDecodeThreadsChanged(_logger, _settings.ModelId, _governor.Threads, _governor.LastReason ?? "");
        }

        Interlocked.Increment(ref _decodeCalls);
        if (_generating.Count > 0 && _prefillChunks.Count > 0)
        {
            Interlocked.Increment(ref _mixedDecodeCalls);
        }

        if (result != 0)
        {
            HandleDecodeFailure(result);
            return;
        }

        ScorePromptChunks();
        foreach (var (sequence, count) in _prefillChunks)
        {
            var slot = _slots[sequence.Slot];
            slot.CachedTokens.AddRange(sequence.PromptTokens.AsSpan(sequence.PrefillPosition, count));
            sequence.PrefillPosition += count;
            sequence.Past += count;
        }

        foreach (var sequence in _generating)
        {
            _slots[sequence.Slot].CachedTokens.Add(sequence.PendingToken);
            sequence.Past++;
        }

        foreach (var (sequence, batchIndex) in _outputs)
        {
            if (sequence.Request.MaxTokens == 0)
            {
                Finish(_slots[sequence.Slot], FinishReason.Length); // the prompt was only to be read
                continue;
            }

            var token = LlamaNative.llama_sampler_sample(sequence.Sampler, _context, batchIndex);
            Accept(sequence, token, sequence.Request.TopLogProbs is { } top ? LogProbOf(batchIndex, token, top, sequence.Request.EndOfGenerationLogProbs) : null);
        }
    }

    private void Accept(Sequence sequence, int token, TokenLogProb? logProb)
    {
        var slot = _slots[sequence.Slot];
        slot.State = SlotState.Generating;
        if (LlamaNative.llama_vocab_is_eog(_vocab, token))
        {
            sequence.EndOfGenerationStep = sequence.Request.EndOfGenerationLogProbs ? logProb : null;
            Finish(slot, FinishReason.Stop);
            return;
        }

        sequence.Generated++;
        sequence.GeneratedTokens.Add(token);
        var text = sequence.Utf8.Append(TokenPiece(token));
        if (logProb is not null)
        {
            sequence.LogProbs?.Add(logProb, text.Length, sequence.Utf8.HasPending);
        }

        var emit = sequence.Stops.Push(text, out var stopped);
        if (emit.Length > 0)
        {
            sequence.Emit(emit);
        }

        if (stopped)
        {
            Finish(slot, FinishReason.Stop);
        }
        else if (sequence.Request.MaxTokens is { } max && sequence.Generated >= max)
        {
            Finish(slot, FinishReason.Length);
        }
        else if (sequence.Past + 1 >= _settings.SlotContextLength)
        {
            // Prompt plus completion never exceed the slot's context.
            Finish(slot, FinishReason.Length);
        }
        else
        {
            sequence.PendingToken = token;
        }
    }

    private ReadOnlySpan<byte> TokenPiece(int token)
    {
        unsafe
        {
            fixed (byte* buffer = _pieceBuffer)
            {
                var length = LlamaNative.llama_token_to_piece(_vocab, token, buffer, _pieceBuffer.Length, 0, false);
                if (length < 0)
                {
                    var large = new byte[-length];
                    fixed (byte* largeBuffer = large)
                    {
                        length = LlamaNative.llama_token_to_piece(_vocab, token, largeBuffer, large.Length, 0, false);
                    }

                    return large.AsSpan(0, Math.Max(0, length));
                }

                return _pieceBuffer.AsSpan(0, length);
            }
        }
    }

    private void Finish(Slot slot, FinishReason reason)
    {
        var sequence = slot.Active!;
        var tail = sequence.Stops.Push(sequence.Utf8.Flush(), out var stopped);
        if (!stopped)
        {
            tail += sequence.Stops.Flush();
        }
        else
        {
            reason = FinishReason.Stop;
        }

        sequence.Emit(tail, final: true);

        ReleaseSlot(slot, keepCache: _settings.PrefixReuse);
        Complete(sequence, reason, failure: null);
    }

    private void ReleaseSlot(Slot slot, bool keepCache)
    {
        if (!keepCache)
        {
            ClearSlotCache(slot);
        }

        slot.Active = null;
        slot.State = SlotState.Idle;
        slot.LastUsed = Stopwatch.GetTimestamp();
        Interlocked.Decrement(ref _active);
    }

    private void ClearSlotCache(Slot slot)
    {
        LlamaNative.llama_memory_seq_rm(_memory, slot.Index, -1, -1);
        slot.CachedTokens.Clear();
    }

    private void Complete(Sequence sequence, FinishReason reason, EngineFailure? failure)
    {
        sequence.PromptScored.TrySetResult(null);
        sequence.Output.Writer.TryComplete();
        sequence.Sampler.Dispose();
        Release(sequence.Adapters);
        sequence.Completion.TrySetResult(new GenerationOutcome(reason, sequence.PromptTokens.Length, sequence.Generated, failure)
        {
            EndOfGenerationStep = failure is null ? sequence.EndOfGenerationStep : null,
        });
    }

    private void HandleDecodeFailure(int result)
    {
        // 1: no KV slot for the batch; 2: aborted; < 0: error. The batch's sequences end with a clear
        // error; their cells are freed so the others can go on.
        LogDecodeFailed(_logger, _settings.ModelId, result, _batch.Count);
        var message = result == 1
            ? "The local model ran out of KV cache space; retry with a shorter prompt or fewer parallel requests."
            : $"The local model failed to decode (llama_decode returned {result}).";
        foreach (var slot in _slots)
        {
            if (slot.Active is { } sequence && (_outputs.Any(o => o.Sequence == sequence) || _prefillChunks.Any(p => p.Sequence == sequence)))
            {
                ReleaseSlot(slot, keepCache: false);
                Complete(sequence, FinishReason.Stop, new EngineFailure(EngineError.DecodeFailed, message));
            }
        }
    }

    private void FailEverything(EngineFailure failure)
    {
        foreach (var slot in _slots)
        {
            if (slot.Active is { } sequence)
            {
                slot.Active = null;
                slot.State = SlotState.Idle;
                Interlocked.Decrement(ref _active);
                Complete(sequence, FinishReason.Stop, failure);
            }
        }

        while (_incoming.TryDequeue(out var incoming))
        {
            _waiting.Add(incoming);
        }

        foreach (var sequence in _waiting)
        {
            Interlocked.Decrement(ref _queued);
            Complete(sequence, FinishReason.Stop, failure);
        }

        _waiting.Clear();
        while (_embeddingJobs.TryDequeue(out var job))
        {
            job.Completion.TrySetResult(EngineResult<EmbeddingResult>.Fail(failure));
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "Scheduler of model {ModelId} crashed; all its sequences were ended")]
    private static partial void LogSchedulerCrashed(ILogger logger, string modelId, Exception exception);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "llama_decode failed for model {ModelId} with code {Code} ({Tokens} tokens in the batch)")]
    private static partial void LogDecodeFailed(ILogger logger, string modelId, int code, int tokens);

    /// <summary>One llama.cpp sequence id with the tokens whose KV cells it holds.</summary>
    private sealed class Slot(int index)
    {
        public int Index { get; } = index;
        public Sequence? Active { get; set; }
        public SlotState State { get; set; } = SlotState.Idle;
        public List<int> CachedTokens { get; } = [];

        /// <summary>The adapter set the cached cells were computed under ("" for the base model).</summary>
        public string CacheKey { get; set; } = string.Empty;
        public long LastUsed { get; set; }

        public int CommonPrefix(int[] prompt)
        {
            var limit = Math.Min(prompt.Length, CachedTokens.Count);
            var i = 0;
            while (i < limit && CachedTokens[i] == prompt[i])
            {
                i++;
            }

            return i;
        }

        public SlotStatus Snapshot() => new(Index, State, Active?.Past ?? 0);
    }
}
