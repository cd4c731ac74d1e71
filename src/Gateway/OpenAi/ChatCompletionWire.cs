using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>POST /v1/chat/completions body.</summary>
public sealed record ChatCompletionRequest : GenerationParameters
{
    public List<ChatMessageWire?>? Messages { get; init; }

    /// <summary>Every field this type does not name: where the context store's extension fields (see Context/) are read from.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extensions { get; set; }
}

public sealed record ChatMessageWire
{
    public string? Role { get; init; }
    /// <summary>A string, an array of parts (<c>{"type":"text","text":"…"}</c>), or null.</summary>
    public JsonElement? Content { get; init; }
    public string? Name { get; init; }
}

public sealed record ChatCompletionResponse(string Id, long Created, string Model, IReadOnlyList<ChatChoice> Choices, Usage Usage)
{
    public string Object => "chat.completion";
}

public sealed record ChatChoice(
    int Index, AssistantMessage Message, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogProbs? Logprobs = null);

/// <summary>A choice's <c>logprobs</c>: one entry per generated token.</summary>
public sealed record ChatLogProbs(IReadOnlyList<ChatTokenLogProb> Content)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public IReadOnlyList<ChatTokenLogProb>? Refusal => null;
}

/// <summary>A generated token: its text, log probability, UTF-8 bytes and the most likely tokens at its step.</summary>
public sealed record ChatTokenLogProb(string Token, float Logprob, IReadOnlyList<int> Bytes, IReadOnlyList<ChatTopLogProb> TopLogprobs);

public sealed record ChatTopLogProb(string Token, float Logprob, IReadOnlyList<int> Bytes);

public sealed record AssistantMessage(string Content)
{
    public string Role => "assistant";
}

public sealed record ChatCompletionChunk(string Id, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices, Usage? Usage = null)
{
    public string Object => "chat.completion.chunk";
}

public sealed record ChatChunkChoice(
    int Index, ChatDelta Delta, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogProbs? Logprobs = null);

public sealed record ChatDelta(string? Role = null, string? Content = null);
