using System.Collections.Concurrent;
using InferenceMesh.Engine.Native;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Scheduling;

/// <summary>
/// LoRA adapters. In llama.cpp v0.5.0 adapters are a property of the context (<c>llama_set_adapters_lora</c>), not of a
/// sequence, so sequences with different adapter sets cannot share a <c>llama_decode</c>: each step decodes one group
/// (sequences with the same set), and the groups take turns. Adapters are loaded, applied and freed only on the
/// scheduler thread, between decodes; other threads post work through <see cref="_adapterWork"/>.
/// </summary>
internal sealed partial class BatchScheduler
{
    private readonly ConcurrentQueue<Action> _adapterWork = new();
    private readonly List<LoadedAdapter> _adapters = [];
    private AdapterSet _applied = AdapterSet.Empty;
    private string? _lastGroup;
    private long _nextAdapterId;
    private long _adapterSwitches;
    private int _loadedAdapters;

    /// <summary>
    /// Loads (or finds) the adapters on the scheduler thread and takes one reference on each for a sequence; the
    /// sequence gives them back when it ends (or <see cref="ReleaseAdapters"/> when it was never queued).
    /// </summary>
    public Task<EngineResult<AdapterSet>> AcquireAdaptersAsync(IReadOnlyList<AdapterUse> uses, CancellationToken cancellationToken)
    {
        if (uses.Count == 0)
        {
            return Task.FromResult(EngineResult<AdapterSet>.Ok(AdapterSet.Empty));
        }

        if (_stopping)
        {
            return Task.FromResult(EngineResult<AdapterSet>.Fail(EngineError.ShuttingDown, "The engine is shutting down."));
        }

        var completion = new TaskCompletionSource<EngineResult<AdapterSet>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = cancellationToken.Register(() => completion.TrySetResult(EngineResult<AdapterSet>.Fail(EngineError.Cancelled, "The request was cancelled.")));
        _adapterWork.Enqueue(() =>
        {
            registration.Dispose();
            if (completion.Task.IsCompleted)
            {
                return;
            }

            var result = Acquire(uses);
            if (!completion.TrySetResult(result) && result.Succeeded)
            {
                Release(result.Value!); // cancelled meanwhile: nobody will use these references
            }
        });
        Wake();
        return completion.Task;
    }

    /// <summary>Gives back the references of a set whose sequence never reached the scheduler.</summary>
    public void ReleaseAdapters(AdapterSet set)
    {
        if (set.IsEmpty)
        {
            return;
        }

        _adapterWork.Enqueue(() => Release(set));
        Wake();
    }

    /// <summary>Retires every loaded adapter not in <paramref name="offered"/> (freed once unused).</summary>
    public Task RetireAdaptersExceptAsync(IReadOnlyCollection<AdapterSource> offered)
    {
        var keep = offered.ToHashSet();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _adapterWork.Enqueue(() =>
        {
            foreach (var adapter in _adapters.ToList())
            {
                if (!keep.Contains(adapter.Source))
                {
                    Retire(adapter);
                }
            }

            done.TrySetResult();
        });
        Wake();
        return done.Task;
    }

    private void RunAdapterWork()
    {
        while (_adapterWork.TryDequeue(out var work))
        {
            work();
        }
    }

    private EngineResult<AdapterSet> Acquire(IReadOnlyList<AdapterUse> uses)
    {
        var taken = new List<(LoadedAdapter Adapter, float Scale)>(uses.Count);
        foreach (var use in uses)
        {
            var adapter = _adapters.FirstOrDefault(a => !a.Retired && a.Source == use.Source);
            if (adapter is null)
            {
                // A different file under the same name replaces the old one (freed once its last sequence ends).
                foreach (var stale in _adapters.Where(a => !a.Retired && a.Source.Name == use.Source.Name).ToList())
                {
                    Retire(stale);
                }

                var handle = SafeLlamaAdapterHandle.Load(_model, use.Source.Path);
                if (handle is null)
                {
                    LogAdapterLoadFailed(_logger, _settings.ModelId, use.Source.Name);
                    foreach (var (held, _) in taken)
                    {
                        Unreference(held);
                    }

                    return EngineResult<AdapterSet>.Fail(
                        EngineError.AdapterLoadFailed, $"llama.cpp could not load LoRA adapter '{use.Source.Name}' for model '{_settings.ModelId}'; see the gateway log.", "lora");
                }

                adapter = new LoadedAdapter(++_nextAdapterId, use.Source, handle);
                _adapters.Add(adapter);
                Volatile.Write(ref _loadedAdapters, _adapters.Count);
                LogAdapterLoaded(_logger, _settings.ModelId, use.Source.Name);
            }

            adapter.References++;
            taken.Add((adapter, use.Scale));
        }

        return EngineResult<AdapterSet>.Ok(new AdapterSet(taken));
    }

    private void Release(AdapterSet set)
    {
        foreach (var (adapter, _) in set.Adapters)
        {
            Unreference(adapter);
        }
    }

    private void Unreference(LoadedAdapter adapter)
    {
        adapter.References--;
        if (adapter.Retired && adapter.References == 0)
        {
            Free(adapter);
        }
    }

    private void Retire(LoadedAdapter adapter)
    {
        adapter.Retired = true;
        if (adapter.References == 0)
        {
            Free(adapter);
        }
    }

    private void Free(LoadedAdapter adapter)
    {
        if (_applied.Adapters.Any(a => a.Adapter == adapter))
        {
            // The context must not point at a freed adapter.
            Apply(AdapterSet.Empty);
        }

        _adapters.Remove(adapter);
        Volatile.Write(ref _loadedAdapters, _adapters.Count);
        adapter.Handle.Dispose();
        LogAdapterFreed(_logger, _settings.ModelId, adapter.Source.Name);
    }

    /// <summary>Frees every adapter (the context is already freed): the scheduler is stopping.</summary>
    private void FreeAllAdapters()
    {
        foreach (var adapter in _adapters)
        {
            adapter.Handle.Dispose();
        }

        _adapters.Clear();
        Volatile.Write(ref _loadedAdapters, 0);
    }

    /// <summary>
    /// The adapter set to decode in this step: the only one when all active sequences share it, else the next set
    /// after the one decoded last (ordinal order of keys), so every group gets every n-th step.
    /// </summary>
    private AdapterSet PickGroup()
    {
        AdapterSet? first = null;
        AdapterSet? next = null;
        foreach (var slot in _slots)
        {
            if (slot.Active is not { } sequence)
            {
                continue;
            }

            var set = sequence.Adapters;
            if (first is null || string.CompareOrdinal(set.Key, first.Key) < 0)
            {
                first = set;
            }

            if (_lastGroup is not null && string.CompareOrdinal(set.Key, _lastGroup) > 0
                && (next is null || string.CompareOrdinal(set.Key, next.Key) < 0))
            {
                next = set;
            }
        }

        var chosen = next ?? first ?? AdapterSet.Empty;
        _lastGroup = chosen.Key;
        return chosen;
    }

    private void Apply(AdapterSet set)
    {
        if (set.Key == _applied.Key)
        {
            return;
        }

        unsafe
        {
            var count = set.Adapters.Count;
            var pointers = stackalloc IntPtr[Math.Max(1, count)];
            var scales = stackalloc float[Math.Max(1, count)];
            for (var i = 0; i < count; i++)
            {
                pointers[i] = set.Adapters[i].Adapter.Handle.DangerousGetHandle();
                scales[i] = set.Adapters[i].Scale;
            }

            LlamaNative.llama_set_adapters_lora(_context, count == 0 ? null : pointers, (nuint)count, count == 0 ? null : scales);
        }

        _applied = set;
        Interlocked.Increment(ref _adapterSwitches);
    }

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "Loaded LoRA adapter {Adapter} for model {ModelId}")]
    private static partial void LogAdapterLoaded(ILogger logger, string modelId, string adapter);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Freed LoRA adapter {Adapter} of model {ModelId}")]
    private static partial void LogAdapterFreed(ILogger logger, string modelId, string adapter);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "llama.cpp refused LoRA adapter {Adapter} for model {ModelId}")]
    private static partial void LogAdapterLoadFailed(ILogger logger, string modelId, string adapter);
}
