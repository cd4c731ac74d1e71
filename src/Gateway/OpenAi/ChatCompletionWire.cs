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
    /// <summary>An assistant message's tool calls: <c>[{"id","type":"function","function":{"name","arguments"}}]</c> (read by translated backends).</summary>
    public JsonElement? ToolCalls { get; init; }
    /// <summary>A tool message: the id of the call it answers.</summary>
    public JsonElement? ToolCallId { get; init; }
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

/// <summary>The answer: text, and the tool calls when the model called tools (<c>content</c> is then null when it wrote no text).</summary>
public sealed record AssistantMessage([property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Content, IReadOnlyList<ChatToolCall>? ToolCalls = null)
{
    public string Role => "assistant";
}

/// <summary>
/// One tool call: in a message <c>{"id","type":"function","function":{"name","arguments"}}</c>; in a stream delta the first
/// chunk of a call has <c>index</c>, id, type, name and empty arguments, the next ones only <c>index</c> and an arguments fragment.
/// </summary>
public sealed record ChatToolCall(int? Index, string? Id, string? Type, ChatFunctionCall Function);

/// <summary><c>arguments</c> is a JSON text (an object), or a fragment of one in a stream delta.</summary>
public sealed record ChatFunctionCall(string? Name, string Arguments);

public sealed record ChatCompletionChunk(string Id, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices, Usage? Usage = null)
{
    public string Object => "chat.completion.chunk";
}

public sealed record ChatChunkChoice(
    int Index, ChatDelta Delta, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogProbs? Logprobs = null);

public sealed record ChatDelta(string? Role = null, string? Content = null, IReadOnlyList<ChatToolCall>? ToolCalls = null);
