using System.Text;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Inference;

/// <summary>Validates and converts the prompt-carrying fields: chat messages, a raw prompt, embedding inputs.</summary>
public static class PromptInputs
{
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

            var role = message.Role switch
            {
                "system" or "user" or "assistant" or "tool" => message.Role,
                // OpenAI's newer name for system instructions; chat templates know "system".
                "developer" => "system",
                _ => null,
            };
            if (role is null)
            {
                return ApiErrors.InvalidParameter($"messages[{i}].role", "'role' must be one of system, developer, user, assistant, tool.");
            }

            var content = ContentText(message.Content, $"messages[{i}].content");
            if (content.Error is { } error)
            {
                return error;
            }

            result.Add(new ChatMessage(role, content.Value!));
        }

        return result;
    }

    /// <summary>Content as a string, null (empty), or an array of text parts (joined with newlines).</summary>
    private static ApiResult<string> ContentText(JsonElement? content, string param)
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
        var first = true;
        foreach (var part in element.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object
                || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
                || type.GetString() != "text"
                || !part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
            {
                return ApiErrors.InvalidParameter(param, "Only text content parts ({\"type\":\"text\",\"text\":\"...\"}) are supported.");
            }

            if (!first)
            {
                text.Append('\n');
            }

            text.Append(partText.GetString());
            first = false;
        }

        return text.ToString();
    }

    /// <summary>A raw completion prompt: a string, or an array holding exactly one string.</summary>
    public static ApiResult<string> CompletionPrompt(JsonElement? prompt)
    {
        if (prompt is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return ApiErrors.MissingParameter("prompt");
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            return element.GetString()!;
        }

        if (element.ValueKind == JsonValueKind.Array && element.GetArrayLength() == 1 && element[0].ValueKind == JsonValueKind.String)
        {
            return element[0].GetString()!;
        }

        return ApiErrors.InvalidParameter("prompt", "'prompt' must be a string or an array of exactly one string (token arrays and batches are not supported).");
    }

    /// <summary>Embedding input: a string or a non-empty array of strings.</summary>
    public static ApiResult<IReadOnlyList<string>> EmbeddingInputs(JsonElement? input)
    {
        if (input is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return ApiErrors.MissingParameter("input");
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            // OpenAI refuses an empty input; embedding it would give the vector of the BOS token alone, which means nothing.
            return element.GetString() is { Length: > 0 } single
                ? new ApiResult<IReadOnlyList<string>>([single], null)
                : EmptyEmbeddingInput("input");
        }

        if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() == 0)
        {
            return ApiErrors.InvalidParameter("input", "'input' must be a string or a non-empty array of strings.");
        }

        if (element.GetArrayLength() > MaxEmbeddingInputs)
        {
            return ApiErrors.InvalidParameter("input", $"'input' accepts at most {MaxEmbeddingInputs} strings.");
        }

        var inputs = new List<string>(element.GetArrayLength());
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                return ApiErrors.InvalidParameter("input", "'input' must be a string or an array of strings (token arrays are not supported).");
            }

            if (item.GetString() is not { Length: > 0 } text)
            {
                return EmptyEmbeddingInput($"input[{inputs.Count}]");
            }

            inputs.Add(text);
        }

        return inputs;
    }

    private static ApiError EmptyEmbeddingInput(string param) =>
        ApiErrors.InvalidParameter(param, $"'{param}' must not be an empty string.");
}
