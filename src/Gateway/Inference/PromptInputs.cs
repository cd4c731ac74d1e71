using System.Text;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Inference;

/// <summary>Validates and converts chat messages and Responses content (completions' prompts and embeddings' inputs: <see cref="PromptList"/>).</summary>
public static class PromptInputs
{
    /// <summary>The most inputs one embeddings request may hold (OpenAI's limit).</summary>
    public const int MaxEmbeddingInputs = 2048;

    public static ApiResult<IReadOnlyList<ChatMessage>> ChatMessages(List<ChatMessageWire?>? messages)
    {
        if (messages is null || messages.Count == 0)
        {
            return ApiErrors.InvalidParameter("messages", "'messages' must be a non-empty array.");
        }

        var result = new List<ChatMessage>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not { } message)
            {
                return ApiErrors.InvalidParameter($"messages[{i}]", "Each message must be an object with 'role' and 'content'.");
            }

            var role = message.Role == "tool" ? "tool" : TemplateRole(message.Role);
            if (role is null)
            {
                return ApiErrors.InvalidParameter($"messages[{i}].role", "'role' must be one of system, developer, user, assistant, tool.");
            }

            var content = ContentText(message.Content, $"messages[{i}].content", ChatParts);
            if (content.Error is { } error)
            {
                return error;
            }

            result.Add(new ChatMessage(role, content.Value!));
        }

        return result;
    }

    /// <summary>
    /// The text of a Responses API message item's <c>content</c> (at <paramref name="param"/>): a string or
    /// <c>input_text</c>/<c>output_text</c> parts (joined with newlines); image, file and audio parts are refused with
    /// <c>unsupported_parameter</c> naming where they are.
    /// </summary>
    public static ApiResult<string> ResponseContent(JsonElement content, string param) => ContentText(content, param, ResponseParts);

    /// <summary>The content part types read as text, and those known but refused as unsupported (not malformed).</summary>
    private sealed record ContentParts(string[] Text, string[] Unsupported, string Expected);

    private static readonly ContentParts ChatParts = new(["text"], [], "Only text content parts ({\"type\":\"text\",\"text\":\"...\"}) are supported.");

    private static readonly ContentParts ResponseParts = new(
        ["input_text", "output_text"], ["input_image", "input_file", "input_audio"],
        "Content parts must be {\"type\":\"input_text\" or \"output_text\",\"text\":\"...\"}.");

    /// <summary>A role as the chat template knows it: system, user, assistant; OpenAI's newer "developer" is a system message. Null for anything else.</summary>
    private static string? TemplateRole(string? role) => role switch
    {
        "system" or "user" or "assistant" => role,
        "developer" => "system",
        _ => null,
    };

    /// <summary>Content as a string, null (empty), or an array of text parts (joined with newlines).</summary>
    private static ApiResult<string> ContentText(JsonElement? content, string param, ContentParts parts)
    {
        if (content is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return string.Empty;
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            return element.GetString()!;
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            return ApiErrors.InvalidParameter(param, "'content' must be a string or an array of text parts.");
        }

        var text = new StringBuilder();
        var index = 0;
        foreach (var part in element.EnumerateArray())
        {
            var type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var typeElement) && typeElement.ValueKind == JsonValueKind.String
                ? typeElement.GetString()
                : null;
            if (type is not null && parts.Unsupported.Contains(type))
            {
                return ApiErrors.UnsupportedParameter($"{param}[{index}]", $"'{type}' content is not supported by the local model: it reads text only.");
            }

            if (type is null || !parts.Text.Contains(type)
                || !part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
            {
                return ApiErrors.InvalidParameter(param, parts.Expected);
            }

            if (index > 0)
            {
                text.Append('\n');
            }

            text.Append(partText.GetString());
            index++;
        }

        return text.ToString();
    }
}
