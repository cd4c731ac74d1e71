using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.Cli;

/// <summary>One entry of <c>models list --json</c>.</summary>
internal sealed record ModelsListItem
{
    public required string Name { get; init; }

    public required string Path { get; init; }

    public required string Sha256 { get; init; }

    public required long Size { get; init; }

    public string? Quantization { get; init; }

    public string? Architecture { get; init; }

    public long Parameters { get; init; }

    public long? ContextLength { get; init; }

    public string? License { get; init; }

    public bool ChatTemplate { get; init; }

    /// <summary>"blob" or "loose" (models), or "adapter" (a LoRA adapter; see <see cref="Base"/>).</summary>
    public required string Kind { get; init; }

    /// <summary>For an adapter: the base model's name (null for models).</summary>
    public string? Base { get; init; }

    /// <summary>For an adapter: the base model's SHA-256 it was registered against.</summary>
    public string? BaseSha256 { get; init; }

    /// <summary>For an adapter: the scale applied when a request gives none.</summary>
    public float? Scale { get; init; }

    /// <summary>For an adapter: its rank.</summary>
    public int? Rank { get; init; }

    /// <summary>"ok" or "quarantined".</summary>
    public required string Status { get; init; }

    public IReadOnlyList<string> Sources { get; init; } = [];

    public string? SourceSha256 { get; init; }

    public string? QuantizationType { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(List<ModelsListItem>))]
internal sealed partial class ModelsCliJsonContext : JsonSerializerContext;
