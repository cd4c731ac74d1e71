using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.Context;

/// <summary>A conversation in OpenAI's shape; <c>privacy</c> is ours (the level its history keeps every request at, at least).</summary>
public sealed record ConversationWire(string Id, long CreatedAt, IReadOnlyDictionary<string, string> Metadata, string Privacy)
{
    public string Object => "conversation";
}

public sealed record ConversationDeletedWire(string Id)
{
    public string Object => "conversation.deleted";

    public bool Deleted => true;
}

/// <summary>
/// An item in OpenAI's shape: a <c>message</c> (role and content), a <c>function_call</c> (call_id, name, arguments) or a
/// <c>function_call_output</c> (call_id, output); fields of another type are left out. <c>created_at</c> and
/// <c>backend</c> (who answered an assistant item) are ours.
/// </summary>
public sealed record ConversationItemWire(string Id, [property: JsonPropertyOrder(-2)] string Type, string? Role, IReadOnlyList<ContentPartWire>? Content, long CreatedAt, string? Backend)
{
    [JsonPropertyOrder(-1)]
    public string Status => "completed";

    public string? CallId { get; init; }

    public string? Name { get; init; }

    public string? Arguments { get; init; }

    public string? Output { get; init; }
}

/// <summary><c>input_text</c> for what was sent, <c>output_text</c> (with empty annotations) for what an assistant answered.</summary>
public sealed record ContentPartWire(string Type, string Text, IReadOnlyList<JsonElement>? Annotations = null);

/// <summary>OpenAI's list envelope.</summary>
public sealed record ListWire<T>(IReadOnlyList<T> Data, string? FirstId, string? LastId, bool HasMore)
{
    [JsonPropertyOrder(-1)]
    public string Object => "list";
}

/// <summary>POST /v1/conversations.</summary>
public sealed record CreateConversationRequest
{
    public List<InputItemWire?>? Items { get; init; }

    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>POST /v1/conversations/{id}.</summary>
public sealed record UpdateConversationRequest
{
    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>POST /v1/conversations/{id}/items.</summary>
public sealed record AddItemsRequest
{
    public List<InputItemWire?>? Items { get; init; }
}

/// <summary>
/// An input item: a message <c>{"type":"message","role":"user","content":"…"}</c> (content a string or text parts), a
/// <c>function_call</c> (<c>call_id</c>, <c>name</c>, <c>arguments</c>) or a <c>function_call_output</c> (<c>call_id</c>, <c>output</c>).
/// </summary>
public sealed record InputItemWire
{
    public string? Type { get; init; }

    public string? Role { get; init; }

    public JsonElement? Content { get; init; }

    public string? CallId { get; init; }

    public string? Name { get; init; }

    public string? Arguments { get; init; }

    public string? Output { get; init; }
}

/// <summary>A preset (ours): a named system prompt and generation defaults, applied with <c>"model": "preset:&lt;name&gt;"</c>.</summary>
public sealed record PresetWire(
    string Name, string? Instructions, string Model, double? Temperature, double? TopP, int? MaxTokens,
    IReadOnlyDictionary<string, string> Metadata, long CreatedAt, long UpdatedAt)
{
    public string Id => Name;

    public string Object => "preset";
}

public sealed record PresetDeletedWire(string Id)
{
    public string Object => "preset.deleted";

    public bool Deleted => true;
}

/// <summary>POST /v1/presets (with <c>name</c>) and POST /v1/presets/{name} (the whole definition; <c>name</c> ignored).</summary>
public sealed record PresetRequest
{
    public string? Name { get; init; }

    public string? Instructions { get; init; }

    public string? Model { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public int? MaxTokens { get; init; }

    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>
/// Source-generated serialisation of the context store's wire types (snake_case, nulls omitted). A key given twice in
/// one object is refused, as on the OpenAI endpoints: which copy was meant is the client's to say.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(ConversationWire))]
[JsonSerializable(typeof(ConversationDeletedWire))]
[JsonSerializable(typeof(ConversationItemWire))]
[JsonSerializable(typeof(ListWire<ConversationWire>))]
[JsonSerializable(typeof(ListWire<ConversationItemWire>))]
[JsonSerializable(typeof(CreateConversationRequest))]
[JsonSerializable(typeof(UpdateConversationRequest))]
[JsonSerializable(typeof(AddItemsRequest))]
[JsonSerializable(typeof(PresetWire))]
[JsonSerializable(typeof(PresetDeletedWire))]
[JsonSerializable(typeof(ListWire<PresetWire>))]
[JsonSerializable(typeof(PresetRequest))]
public sealed partial class ContextJsonContext : JsonSerializerContext;
