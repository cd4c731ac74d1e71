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

public sealed record ChatChoice(int Index, AssistantMessage Message, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public JsonElement? Logprobs => null;
}

public sealed record AssistantMessage(string Content)
{
    public string Role => "assistant";
}

public sealed record ChatCompletionChunk(string Id, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices, Usage? Usage = null)
{
    public string Object => "chat.completion.chunk";
}

public sealed record ChatChunkChoice(int Index, ChatDelta Delta, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public JsonElement? Logprobs => null;
}

public sealed record ChatDelta(string? Role = null, string? Content = null);
