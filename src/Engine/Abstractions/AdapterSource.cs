namespace InferenceMesh.Engine;

/// <summary>
/// A LoRA adapter file the engine may load for a model. The caller (the gateway, through the model cache) validated
/// the GGUF in managed code against its base model before handing one over: llama.cpp aborts on some malformed files.
/// Two sources are the same adapter only when every field matches, so a replaced file is loaded anew.
/// </summary>
/// <param name="Name">The adapter's registered name.</param>
/// <param name="Path">The adapter GGUF file.</param>
/// <param name="SizeBytes">Its size (part of its identity).</param>
/// <param name="Sha256">Its SHA-256 (64 lowercase hex) when known (part of its identity).</param>
public sealed record AdapterSource(string Name, string Path, long SizeBytes, string? Sha256 = null);

/// <summary>One adapter applied to one generation, with its scale (llama.cpp multiplies it by alpha / rank).</summary>
public sealed record AdapterUse(AdapterSource Source, float Scale);

/// <summary>Limits on the adapters of one request.</summary>
public static class AdapterLimits
{
    /// <summary>The lowest scale accepted. The value is -4 (a negative scale subtracts the adapter).</summary>
    public const float MinScale = -4f;

    /// <summary>The highest scale accepted. The value is 4.</summary>
    public const float MaxScale = 4f;

    /// <summary>The most adapters one request may apply at once. The value is 4.</summary>
    public const int MaxPerRequest = 4;

    /// <summary>Null when the adapters are acceptable, otherwise why not (a message safe to show).</summary>
    public static string? Validate(IReadOnlyList<AdapterUse> adapters)
    {
        ArgumentNullException.ThrowIfNull(adapters);
        if (adapters.Count > MaxPerRequest)
        {
            return $"At most {MaxPerRequest} LoRA adapters may be applied to one request.";
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var adapter in adapters)
        {
            if (!float.IsFinite(adapter.Scale) || adapter.Scale < MinScale || adapter.Scale > MaxScale)
            {
                return $"The scale of LoRA adapter '{adapter.Source.Name}' must be from {MinScale} to {MaxScale}.";
            }

            if (!names.Add(adapter.Source.Name))
            {
                return $"LoRA adapter '{adapter.Source.Name}' is named more than once.";
            }
        }

        return null;
    }
}
