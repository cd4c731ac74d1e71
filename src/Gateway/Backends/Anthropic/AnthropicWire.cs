using System.Text.Json;
using System.Text.Json.Serialization;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Backends.Anthropic;

// Anthropic Messages API wire records (POST {baseUrl}/v1/messages, anthropic-version 2023-06-01).
// Serialised only through AnthropicJsonContext (snake_case, nulls omitted).

/// <summary>The body of a Messages request.</summary>
public sealed record AnthropicMessagesRequest
{
    public required string Model { get; init; }

    /// <summary>Required by Anthropic; see <see cref="AnthropicDefaults.MaxTokens"/> for the default the translation uses.</summary>
    public required int MaxTokens { get; init; }

    /// <summary>A string or an array of text blocks.</summary>
    public AnthropicContent? System { get; init; }

    public required IReadOnlyList<AnthropicMessage> Messages { get; init; }

    /// <summary>0..1 at Anthropic (OpenAI allows 0..2).</summary>
    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public int? TopK { get; init; }

    public IReadOnlyList<string>? StopSequences { get; init; }

    public bool? Stream { get; init; }

    public AnthropicMetadata? Metadata { get; init; }

    /// <summary>Client tools the model may call (from OpenAI function tools).</summary>
    public IReadOnlyList<AnthropicTool>? Tools { get; init; }

    public AnthropicToolChoice? ToolChoice { get; init; }
}

/// <summary>A client tool: <c>input_schema</c> is a JSON Schema of type object.</summary>
public sealed record AnthropicTool(string Name, string? Description, JsonElement InputSchema);

/// <summary><c>type</c>: auto, any, tool (with <c>name</c>) or none; <c>disable_parallel_tool_use</c> is not allowed with none.</summary>
public sealed record AnthropicToolChoice(string Type, string? Name = null, bool? DisableParallelToolUse = null);

/// <summary>One turn: role "user" or "assistant".</summary>
public sealed record AnthropicMessage(string Role, AnthropicContent Content);

public sealed record AnthropicMetadata(string? UserId);

/// <summary>
/// Message or system content: either a plain string (<see cref="Text"/>) or an array of blocks
/// (<see cref="Blocks"/>); exactly one is set. Written and read in both shapes.
/// </summary>
[JsonConverter(typeof(AnthropicContentConverter))]
public sealed record AnthropicContent
{
    private AnthropicContent(string? text, IReadOnlyList<AnthropicContentBlock>? blocks)
    {
        Text = text;
        Blocks = blocks;
    }

    public string? Text { get; }

    public IReadOnlyList<AnthropicContentBlock>? Blocks { get; }

    public static AnthropicContent FromText(string text) => new(text, null);

    public static AnthropicContent FromBlocks(IReadOnlyList<AnthropicContentBlock> blocks) => new(null, blocks);

    /// <summary>The text of a string, or of every text block concatenated.</summary>
    public string JoinedText() => Text ?? string.Concat(Blocks!.Where(b => b.Type == AnthropicContentBlock.TextType).Select(b => b.Text));
}

/// <summary>
/// A content block. The translation produces <c>text</c>, <c>tool_use</c> (an assistant's tool call) and <c>tool_result</c>
/// (a tool's answer, in a user turn) and reads <c>text</c> and <c>tool_use</c>; other types are read and ignored.
/// </summary>
public sealed record AnthropicContentBlock
{
    public const string TextType = "text";
    public const string ToolUseType = "tool_use";
    public const string ToolResultType = "tool_result";

    public required string Type { get; init; }

    /// <summary>Read leniently, as every string of the context: an unpaired surrogate escape is kept as that lone UTF-16 unit.</summary>
    public string? Text { get; init; }

    /// <summary>tool_use blocks.</summary>
    public string? Id { get; init; }

    /// <summary>tool_use blocks.</summary>
    public string? Name { get; init; }

    /// <summary>tool_use blocks: the call's arguments, a JSON object.</summary>
    public JsonElement? Input { get; init; }

    /// <summary>tool_result blocks: the id of the tool_use block answered.</summary>
    public string? ToolUseId { get; init; }

    /// <summary>tool_result blocks: the tool's answer (a string or text blocks); left out when empty.</summary>
    public AnthropicContent? Content { get; init; }

    public static AnthropicContentBlock OfText(string text) => new() { Type = TextType, Text = text };

    public static AnthropicContentBlock OfToolUse(string id, string name, JsonElement input) => new() { Type = ToolUseType, Id = id, Name = name, Input = input };

    public static AnthropicContentBlock OfToolResult(string toolUseId, AnthropicContent? content) => new() { Type = ToolResultType, ToolUseId = toolUseId, Content = content };
}

/// <summary>A non-streamed Messages response; also the <c>message</c> of a stream's message_start event.</summary>
public sealed record AnthropicMessagesResponse
{
    public string? Id { get; init; }

    /// <summary>"message".</summary>
    public string? Type { get; init; }

    public string? Role { get; init; }

    public IReadOnlyList<AnthropicContentBlock>? Content { get; init; }

    public string? Model { get; init; }

    /// <summary>end_turn, max_tokens, stop_sequence, tool_use (also pause_turn, refusal); null in message_start.</summary>
    public string? StopReason { get; init; }

    public string? StopSequence { get; init; }

    public AnthropicUsage? Usage { get; init; }
}

public sealed record AnthropicUsage
{
    public int? InputTokens { get; init; }

    public int? OutputTokens { get; init; }

    public int? CacheCreationInputTokens { get; init; }

    public int? CacheReadInputTokens { get; init; }
}

/// <summary>
/// One streamed event's data (<c>type</c>: message_start, content_block_start, content_block_delta,
/// content_block_stop, message_delta, message_stop, ping, error). One flat record: each event type
/// sets the fields it uses.
/// </summary>
public sealed record AnthropicStreamEvent
{
    public string? Type { get; init; }

    /// <summary>message_start.</summary>
    public AnthropicMessagesResponse? Message { get; init; }

    /// <summary>content_block_start / _delta / _stop.</summary>
    public int? Index { get; init; }

    /// <summary>content_block_start.</summary>
    public AnthropicContentBlock? ContentBlock { get; init; }

    /// <summary>content_block_delta (type text_delta + text) and message_delta (stop_reason, stop_sequence).</summary>
    public AnthropicDelta? Delta { get; init; }

    /// <summary>message_delta: cumulative output_tokens.</summary>
    public AnthropicUsage? Usage { get; init; }

    /// <summary>error.</summary>
    public AnthropicErrorDetail? Error { get; init; }
}

public sealed record AnthropicDelta
{
    /// <summary>text_delta and input_json_delta (others, e.g. thinking_delta, are ignored).</summary>
    public string? Type { get; init; }

    /// <summary>Read leniently, as every string of the context: an unpaired surrogate escape (half of a pair the upstream split across two deltas) is kept as that lone UTF-16 unit.</summary>
    public string? Text { get; init; }

    /// <summary>input_json_delta: the next fragment of a tool_use block's input (JSON text), read leniently as <see cref="Text"/>.</summary>
    public string? PartialJson { get; init; }

    public string? StopReason { get; init; }

    public string? StopSequence { get; init; }
}

/// <summary>An error body or error event: <c>{"type":"error","error":{"type","message"}}</c>.</summary>
public sealed record AnthropicErrorResponse(string? Type, AnthropicErrorDetail? Error);

public sealed record AnthropicErrorDetail(string? Type, string? Message);

internal sealed class AnthropicContentConverter : JsonConverter<AnthropicContent>
{
    public override AnthropicContent? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return AnthropicContent.FromText(reader.GetString()!);
            case JsonTokenType.StartArray:
                var blocks = JsonSerializer.Deserialize(ref reader, AnthropicJsonContext.Default.IReadOnlyListAnthropicContentBlock);
                return AnthropicContent.FromBlocks(blocks ?? []);
            default:
                throw new JsonException("Anthropic content must be a string or an array of blocks.");
        }
    }

    public override void Write(Utf8JsonWriter writer, AnthropicContent value, JsonSerializerOptions options)
    {
        if (value.Text is { } text)
        {
            writer.WriteStringValue(text);
            return;
        }

        JsonSerializer.Serialize(writer, value.Blocks!, AnthropicJsonContext.Default.IReadOnlyListAnthropicContentBlock);
    }
}
