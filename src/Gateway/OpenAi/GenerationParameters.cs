using System.Text.Json;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>The sampling and control parameters shared by chat completions and completions (OpenAI names, plus llama.cpp's extras).</summary>
public abstract record GenerationParameters
{
    public string? Model { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? MaxTokens { get; init; }
    public int? MaxCompletionTokens { get; init; }
    /// <summary>A string or an array of up to 4 strings.</summary>
    public JsonElement? Stop { get; init; }
    public long? Seed { get; init; }
    public double? PresencePenalty { get; init; }
    public double? FrequencyPenalty { get; init; }
    /// <summary>Token id (as a string) to a bias from -100 to 100.</summary>
    public Dictionary<string, double>? LogitBias { get; init; }
    public int? N { get; init; }
    public bool? Stream { get; init; }
    public StreamOptions? StreamOptions { get; init; }
    /// <summary>llama.cpp extra.</summary>
    public int? TopK { get; init; }
    /// <summary>llama.cpp extra.</summary>
    public double? MinP { get; init; }
    /// <summary>llama.cpp extra.</summary>
    public double? RepeatPenalty { get; init; }
}

public sealed record StreamOptions
{
    public bool? IncludeUsage { get; init; }
}

public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens)
{
    public static Usage Of(int promptTokens, int completionTokens) => new(promptTokens, completionTokens, promptTokens + completionTokens);
}
