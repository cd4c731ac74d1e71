using System.Globalization;
using InferenceMesh.Engine.Native;

namespace InferenceMesh.Engine.Scheduling;

/// <summary>
/// A LoRA adapter loaded for one model. Owned by the scheduler thread: it is loaded, counted and freed only there,
/// so it is never freed while a decode that uses it runs.
/// </summary>
internal sealed class LoadedAdapter(long id, AdapterSource source, SafeLlamaAdapterHandle handle)
{
    /// <summary>Unique per load: a removed and re-added adapter gets a new id, so cached KV cells never mix them up.</summary>
    public long Id { get; } = id;

    public AdapterSource Source { get; } = source;

    public SafeLlamaAdapterHandle Handle { get; } = handle;

    /// <summary>Sequences (queued or active) holding this adapter.</summary>
    public int References { get; set; }

    /// <summary>Removed or replaced: freed once <see cref="References"/> is 0, never handed out again.</summary>
    public bool Retired { get; set; }
}

/// <summary>
/// The adapters (with scales) of one sequence. Sequences are decoded together only when their sets have the same
/// <see cref="Key"/>, and a cached prefix is reused only under the same key (the KV values differ per set).
/// </summary>
internal sealed class AdapterSet
{
    public static readonly AdapterSet Empty = new([]);

    public AdapterSet(IReadOnlyList<(LoadedAdapter Adapter, float Scale)> adapters)
    {
        Adapters = [.. adapters.OrderBy(a => a.Adapter.Id)];
        Key = string.Join(';', Adapters.Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Adapter.Id}x{BitConverter.SingleToInt32Bits(a.Scale):x8}")));
    }

    public IReadOnlyList<(LoadedAdapter Adapter, float Scale)> Adapters { get; }

    /// <summary>"" for the base model; otherwise load ids and exact scale bits, in id order.</summary>
    public string Key { get; }

    public bool IsEmpty => Adapters.Count == 0;
}
