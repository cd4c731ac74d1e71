namespace InferenceMesh.ContextStore.Presets;

/// <summary>
/// Named system prompts and generation preferences, applied to a chat request through the model alias
/// <c>preset:&lt;name&gt;</c> (see the gateway's preset stage). Thread-safe; each write is one transaction.
/// </summary>
public interface IPresetStore
{
    /// <summary>Stores a new preset; null when one with this name exists.</summary>
    Preset? Create(string name, PresetDefinition definition);

    Preset? Get(string name);

    /// <summary>Every preset, by name.</summary>
    IReadOnlyList<Preset> List();

    /// <summary>Replaces a preset's definition; null when there is none with this name.</summary>
    Preset? Update(string name, PresetDefinition definition);

    /// <summary>False when there was none with this name.</summary>
    bool Delete(string name);
}

/// <summary>What a preset sets. Every preference is a default: a field the request sets itself wins.</summary>
/// <param name="Instructions">The system prompt put before the request's messages; null for none.</param>
/// <param name="Model">The model the request is routed with: a model name, an alias of the policy, or "auto".</param>
/// <param name="Temperature">Default <c>temperature</c>; null leaves the request's (or the backend's) default.</param>
/// <param name="TopP">Default <c>top_p</c>.</param>
/// <param name="MaxTokens">Default <c>max_tokens</c> (when the request sets neither max_tokens nor max_completion_tokens).</param>
public sealed record PresetDefinition(
    string? Instructions, string Model, double? Temperature, double? TopP, int? MaxTokens, IReadOnlyDictionary<string, string> Metadata);

public sealed record Preset(string Name, PresetDefinition Definition, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Names and limits of presets.</summary>
public static class PresetDefaults
{
    /// <summary>The module name of the migrations (table <c>presets</c>).</summary>
    public const string Module = "presets";

    /// <summary>The prefix of the model alias that applies a preset: <c>"model": "preset:concise"</c>.</summary>
    public const string ModelPrefix = "preset:";

    public const int MaxNameLength = 64;

    /// <summary>Longest system prompt, in characters.</summary>
    public const int MaxInstructionsLength = 256 * 1024;

    /// <summary>1 to 64 characters: letters, digits, '.', '_' and '-', starting with a letter or digit.</summary>
    public static bool IsValidName(string? name) =>
        name is { Length: > 0 and <= MaxNameLength } && char.IsAsciiLetterOrDigit(name[0])
        && !name.AsSpan().ContainsAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
}
