using System.ComponentModel.DataAnnotations;

namespace InferenceMesh.Engine.Hosting;

/// <summary>Settings of the in-process engine. Null means "derived from the model and the machine".</summary>
public sealed record EngineOptions
{
    /// <summary>
    /// Parallel sequences (slots) per loaded model; each gets its own share of the KV cache.
    /// The default value is null: <see cref="EngineConstants.DefaultSlots"/>.
    /// </summary>
    [Range(1, EngineConstants.MaxSlots)]
    public int? Slots { get; init; }

    /// <summary>
    /// Context length of one slot, in tokens. The default value is null: the model's training context,
    /// capped at <see cref="EngineConstants.DefaultMaxSlotContext"/>.
    /// </summary>
    [Range(16, 1 << 20)]
    public int? SlotContextLength { get; init; }

    /// <summary>CPU threads for decoding. The default value is null: <see cref="Environment.ProcessorCount"/>.</summary>
    [Range(1, 1024)]
    public int? Threads { get; init; }

    /// <summary>
    /// Whether <see cref="Scheduling.DecodeThreadGovernor"/> may move decoding to one thread while the cores are too busy
    /// for <see cref="Threads"/>; false keeps every decode at <see cref="Threads"/> (bit-for-bit repeatable greedy text
    /// across machine load, and the A/B of the governor). The default value is true.
    /// </summary>
    public bool AdaptiveThreads { get; init; } = true;

    /// <summary>
    /// How long idle decode threads spin waiting for the next step before sleeping: ggml's polling level,
    /// 0 (sleep at once, leaves the cores to other work) to 100 (spin longest, lowest latency per token).
    /// Measured on 2 cores (bench/): 100 beats ggml's default of 50 for small and 134M-parameter models.
    /// The default value is 100.
    /// </summary>
    [Range(0, 100)]
    public int ThreadpoolPoll { get; init; } = EngineConstants.DefaultThreadpoolPoll;

    /// <summary>Tokens per llama_decode call (prompt chunks plus one token per generating sequence). The default value is 512.</summary>
    [Range(16, 1 << 16)]
    public int BatchSize { get; init; } = EngineConstants.DefaultBatchSize;

    /// <summary>Requests that may wait for a free slot before new ones are refused as overloaded. The default value is null: 4 × slots.</summary>
    [Range(0, 1 << 16)]
    public int? MaxQueuedRequests { get; init; }

    /// <summary>
    /// Memory the loaded models may use together (weights plus KV cache), in bytes; the least recently used
    /// idle model is unloaded to make room. The default value is null: 75% of the memory available to the process.
    /// </summary>
    [Range(1L << 20, long.MaxValue)]
    public long? MemoryBudgetBytes { get; init; }

    /// <summary>Folder of the native llama.cpp libraries. The default value is null: native/linux-x64 beside the application.</summary>
    public string? NativeDirectory { get; init; }

    /// <summary>
    /// Checks a model file right before llama.cpp opens it, on every load (also a reload after an unload): a reason
    /// refuses the load (<see cref="EngineError.ModelLoadFailed"/> with that reason) and native code never sees the
    /// file. The gateway runs the managed GGUF reader here: the catalog validated the file when it listed it, but it
    /// re-reads a file only when its size or write time changes, and bytes that changed under the same stamp (a bad
    /// disk, a restored time) could reach llama.cpp, which aborts the process on some malformed files.
    /// The default value is null: no check.
    /// </summary>
    public Func<string, string?>? FileCheck { get; init; }

    /// <summary>Reuse the KV cells of a finished sequence that shares a prompt prefix. The default value is true.</summary>
    public bool PrefixReuse { get; init; } = true;

    internal int ResolveSlots() => Slots ?? EngineConstants.DefaultSlots;

    internal int ResolveThreads() => Threads ?? Math.Max(1, Environment.ProcessorCount);

    internal int ResolveQueueLimit() => MaxQueuedRequests ?? 4 * ResolveSlots();

    internal int ResolveSlotContext(int? trainContext)
    {
        if (SlotContextLength is { } explicitLength)
        {
            return explicitLength;
        }

        var train = trainContext is > 0 ? trainContext.Value : EngineConstants.DefaultMaxSlotContext;
        return Math.Min(train, EngineConstants.DefaultMaxSlotContext);
    }

    internal long ResolveMemoryBudget()
        => MemoryBudgetBytes ?? (long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * 0.75);
}

/// <summary>Defaults of <see cref="EngineOptions"/>.</summary>
public static class EngineConstants
{
    public const int DefaultSlots = 4;
    public const int MaxSlots = 256;
    public const int DefaultBatchSize = 512;
    public const int DefaultThreadpoolPoll = 100;
    public const int DefaultMaxSlotContext = 4096;
}
