using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>
/// POST /v1/responses body (OpenAI's Responses API; translated to a chat request and routed as one). It shares chat's sampling fields
/// (<see cref="GenerationParameters"/>: <c>temperature</c>, <c>top_p</c>, and as extensions <c>seed</c>, <c>stop</c>,
/// <c>logit_bias</c>, the penalties and llama.cpp's extras); the token limit is <see cref="MaxOutputTokens"/> (chat's
/// <c>max_tokens</c>/<c>max_completion_tokens</c> and <c>stream_options</c> are not Responses fields and are not read).
/// </summary>
public sealed record ResponseRequest : GenerationParameters
{
    /// <summary>A string (one user message) or an array of message items.</summary>
    public JsonElement? Input { get; init; }

    /// <summary>A system message put before the input.</summary>
    public string? Instructions { get; init; }

    public int? MaxOutputTokens { get; init; }

    /// <summary><c>{"format": {"type": "text" | "json_object" | "json_schema", …}}</c>; echoed in the response.</summary>
    public JsonElement? Text { get; init; }

    /// <summary>Echoed in the response.</summary>
    public Dictionary<string, string>? Metadata { get; init; }

    public bool? Store { get; init; }

    public string? PreviousResponseId { get; init; }

    /// <summary>
    /// <c>disabled</c> (the default: a conversation longer than the model's context is a 400 naming the limit) or <c>auto</c>
    /// (the oldest input items are dropped until it fits: Responses/InputTruncation). Echoed in the response.
    /// </summary>
    public string? Truncation { get; init; }

    /// <summary>
    /// <c>{"effort", "summary"}</c>: <c>effort</c> is forwarded as chat's <c>reasoning_effort</c> (an OpenAI-compatible upstream
    /// reads it; the local model ignores it); see Responses/ResponseSettings.
    /// </summary>
    public JsonElement? Reasoning { get; init; }

    /// <summary>Every field this type does not name: the fields refused by the local model are read from here, and our <c>lora</c>.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extensions { get; set; }
}

/// <summary>
/// A response object: the answer (<c>status</c> completed or incomplete), or its state in a stream's lifecycle events
/// (in_progress, failed), with the request's settings echoed as OpenAI does.
/// </summary>
public sealed record ResponseObject
{
    public required string Id { get; init; }
    public string Object => "response";
    public required long CreatedAt { get; init; }
    public required string Status { get; init; }
    public bool Background => false;

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public ResponseError? Error { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public ResponseIncompleteDetails? IncompleteDetails { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Instructions { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public int? MaxOutputTokens { get; init; }

    public required IReadOnlyDictionary<string, string> Metadata { get; init; }
    public required string Model { get; init; }
    public IReadOnlyList<ResponseOutputItem> Output { get; init; } = [];
    public bool ParallelToolCalls { get; init; } = true;

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? PreviousResponseId { get; init; }

    public bool Store { get; init; }
    public required double Temperature { get; init; }
    public required JsonElement Text { get; init; }

    /// <summary>As sent ("auto" when absent).</summary>
    public JsonElement ToolChoice { get; init; } = ResponseDefaults.ToolChoice;

    /// <summary>The function tools as sent (an empty array when absent).</summary>
    public JsonElement Tools { get; init; } = ResponseDefaults.Tools;
    public required double TopP { get; init; }

    /// <summary>As sent: "disabled" (the default) or "auto".</summary>
    public string Truncation { get; init; } = "disabled";

    /// <summary>
    /// The reasoning settings the answering model honoured: as sent when an OpenAI-compatible upstream answered (it was sent
    /// <c>reasoning_effort</c>), else both null, as OpenAI echoes them for a model that does not reason.
    /// </summary>
    public ResponseReasoning Reasoning { get; init; } = ResponseReasoning.None;

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public ResponseUsage? Usage { get; init; }
}

public sealed record ResponseError(string Code, string Message);

/// <summary>A response's <c>reasoning</c>: <c>effort</c> and <c>summary</c>, null when not applied.</summary>
public sealed record ResponseReasoning(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Effort,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Summary)
{
    /// <summary>What a model that does not reason echoes.</summary>
    public static readonly ResponseReasoning None = new(null, null);
}

/// <summary>Why a response is incomplete: <c>max_output_tokens</c> (the limit asked for, or the slot's context, ran out).</summary>
public sealed record ResponseIncompleteDetails(string Reason);

/// <summary>The echoed defaults of a response's tool settings.</summary>
internal static class ResponseDefaults
{
    public static readonly JsonElement ToolChoice = JsonDocument.Parse("\"auto\"").RootElement;
    public static readonly JsonElement Tools = JsonDocument.Parse("[]").RootElement;
}

/// <summary>
/// An output item: the assistant's <c>message</c> or a <c>function_call</c>. The <c>type</c> discriminator is written
/// first, as OpenAI writes it (deserialisers that dispatch on it, System.Text.Json's polymorphism among them, read it first).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(ResponseOutputMessage), "message")]
[JsonDerivedType(typeof(ResponseFunctionCall), "function_call")]
public abstract record ResponseOutputItem([property: JsonPropertyOrder(-1)] string Id);

/// <summary>The assistant's message: one output_text part.</summary>
public sealed record ResponseOutputMessage(string Id, string Status, IReadOnlyList<ResponseOutputText> Content) : ResponseOutputItem(Id)
{
    public string Role => "assistant";
}

/// <summary>A call of one of the request's function tools: <c>arguments</c> is JSON text; <c>call_id</c> is what its <c>function_call_output</c> names.</summary>
public sealed record ResponseFunctionCall(string Id, string Status, string CallId, string Name, string Arguments) : ResponseOutputItem(Id);

/// <param name="Logprobs">Per generated token, when <c>include</c> asked for <c>message.output_text.logprobs</c> (chat's entry shape); omitted otherwise.</param>
public sealed record ResponseOutputText(string Text, IReadOnlyList<ChatTokenLogProb>? Logprobs = null)
{
    [JsonPropertyOrder(-1)]
    public string Type => "output_text";
    public IReadOnlyList<int> Annotations => [];
}

public sealed record ResponseUsage(int InputTokens, ResponseInputTokensDetails InputTokensDetails, int OutputTokens, ResponseOutputTokensDetails OutputTokensDetails, int TotalTokens)
{
    public static ResponseUsage Of(Usage usage) =>
        new(usage.PromptTokens, new ResponseInputTokensDetails(0), usage.CompletionTokens, new ResponseOutputTokensDetails(0), usage.TotalTokens);
}

public sealed record ResponseInputTokensDetails(int CachedTokens);

public sealed record ResponseOutputTokensDetails(int ReasoningTokens);

/// <summary>
/// One event of a streamed response (<c>event: {type}</c>, <c>data: {this}</c>); each event type sets its own members:
/// the lifecycle events <see cref="Response"/>, the item events <see cref="Item"/>, the part events <see cref="Part"/>,
/// the text events <see cref="Delta"/> or <see cref="Text"/>.
/// </summary>
public sealed record ResponseStreamEvent(string Type, int SequenceNumber)
{
    public ResponseObject? Response { get; init; }
    public int? OutputIndex { get; init; }
    public string? ItemId { get; init; }
    public int? ContentIndex { get; init; }
    public ResponseOutputItem? Item { get; init; }
    public ResponseOutputText? Part { get; init; }
    public string? Delta { get; init; }
    public string? Text { get; init; }

    /// <summary>response.function_call_arguments.done: the call's whole arguments and its function's name.</summary>
    public string? Arguments { get; init; }
    public string? Name { get; init; }

    /// <summary>The log probabilities of a delta's (or the whole text's) tokens, when asked for.</summary>
    public IReadOnlyList<ChatTokenLogProb>? Logprobs { get; init; }
}

/// <summary>The stream's <c>error</c> event: a failure after the first byte (followed by <c>response.failed</c>).</summary>
public sealed record ResponseErrorEvent(
    string Code, string Message, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param, int SequenceNumber)
{
    [JsonPropertyOrder(-1)]
    public string Type => "error";
}

/// <summary>DELETE /v1/responses/{id}'s answer.</summary>
public sealed record ResponseDeleted(string Id)
{
    public string Object => "response.deleted";
    public bool Deleted => true;
}
