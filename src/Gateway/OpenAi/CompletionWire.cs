using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>POST /v1/completions body (legacy completions: the prompt is used raw).</summary>
public sealed record CompletionRequest : GenerationParameters
{
    /// <summary>A string, or an array of exactly one string.</summary>
    public JsonElement? Prompt { get; init; }

    /// <summary>Prepend the prompt to the completion's text (streamed: as the first chunk).</summary>
    public bool? Echo { get; init; }

    /// <summary>Text after the insertion point (fill-in-the-middle): refused, the local engine does not insert.</summary>
    public string? Suffix { get; init; }

    /// <summary>Candidates generated server-side to return the best: only 1.</summary>
    public int? BestOf { get; init; }

    /// <summary>Report each generated token's log probability with this many most likely alternatives (0..5).</summary>
    public int? Logprobs { get; init; }

    /// <summary>Every field this type does not name: our extension fields (e.g. <c>lora</c>, see Lora/) are read from here.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extensions { get; set; }
}

/// <summary>A completion, or one chunk of a streamed completion (OpenAI uses the same shape for both).</summary>
public sealed record CompletionResponse(string Id, long Created, string Model, IReadOnlyList<CompletionChoice> Choices, Usage? Usage = null)
{
    public string Object => "text_completion";
}

public sealed record CompletionChoice(
    int Index, string Text, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] CompletionLogProbs? Logprobs = null);

/// <summary>
/// A legacy completion's <c>logprobs</c>: parallel lists over the tokens (with <c>echo</c>, the prompt's first; their
/// text, log probability, the most likely tokens at each step as text → log probability, and where each token starts
/// in the choice's text). The first prompt token has null for both: nothing before it scores it.
/// </summary>
public sealed record CompletionLogProbs(
    IReadOnlyList<string> Tokens,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] IReadOnlyList<float?> TokenLogprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] IReadOnlyList<Dictionary<string, float>?> TopLogprobs,
    IReadOnlyList<int> TextOffset);
