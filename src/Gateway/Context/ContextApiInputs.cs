using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Context;

/// <summary>Validation of the context store endpoints' inputs: bodies, metadata, items and list parameters (400 naming the parameter).</summary>
internal static class ContextApiInputs
{
    /// <summary>The JSON body; an empty body reads as <paramref name="empty"/> when given, else it is an error.</summary>
    public static async ValueTask<ApiResult<T>> ReadBodyAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo, T? empty, CancellationToken cancellationToken)
        where T : class
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (bytes.Span.Trim(" \t\r\n"u8).IsEmpty)
        {
            return empty is not null ? empty : ApiErrors.InvalidJson(null);
        }

        if (JsonText.RefuseUnreadableText(bytes.Span) is { } refused)
        {
            return refused;
        }

        try
        {
            return JsonSerializer.Deserialize(bytes.Span, typeInfo) is { } value ? value : ApiErrors.InvalidJson(null);
        }
        catch (JsonException ex)
        {
            var path = ex.Path;
            return ApiErrors.InvalidJson(path is null or "$" ? null : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path);
        }
    }

    public static ApiResult<IReadOnlyDictionary<string, string>> Metadata(Dictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return new Dictionary<string, string>();
        }

        if (metadata.Count > ConversationDefaults.MaxMetadataPairs)
        {
            return ApiErrors.InvalidParameter("metadata", $"'metadata' holds at most {ConversationDefaults.MaxMetadataPairs} key-value pairs.");
        }

        foreach (var (key, value) in metadata)
        {
            if (key.Length is 0 or > ConversationDefaults.MaxMetadataKeyLength)
            {
                return ApiErrors.InvalidParameter("metadata", $"'metadata' keys must be 1 to {ConversationDefaults.MaxMetadataKeyLength} characters.");
            }

            if (value is null || value.Length > ConversationDefaults.MaxMetadataValueLength)
            {
                return ApiErrors.InvalidParameter("metadata", $"'metadata' values must be strings of at most {ConversationDefaults.MaxMetadataValueLength} characters.");
            }
        }

        return metadata;
    }

    /// <summary>Input messages → items: type "message" (or absent), role user/assistant/system/developer, content a string or text parts.</summary>
    public static ApiResult<IReadOnlyList<NewConversationItem>> Items(List<InputItemWire?>? items, bool required)
    {
        if (items is null || items.Count == 0)
        {
            return required ? ApiErrors.InvalidParameter("items", "'items' must be a non-empty array.") : new ApiResult<IReadOnlyList<NewConversationItem>>([], null);
        }

        if (items.Count > ConversationDefaults.MaxItemsPerCall)
        {
            return ApiErrors.InvalidParameter("items", $"At most {ConversationDefaults.MaxItemsPerCall} items can be added at a time.");
        }

        var result = new List<NewConversationItem>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var param = string.Create(CultureInfo.InvariantCulture, $"items[{i}]");
            if (items[i] is not { } item)
            {
                return ApiErrors.InvalidParameter(param, "Each item must be a message object with 'role' and 'content'.");
            }

            if (item.Type is ConversationItemTypes.FunctionCall or ConversationItemTypes.FunctionCallOutput)
            {
                var tool = ToolItem(item, param);
                if (tool.Error is { } toolError) return toolError;
                result.Add(tool.Value!);
                continue;
            }

            if (item.Type is not (null or ConversationItemTypes.Message))
            {
                return ApiErrors.InvalidParameter(param + ".type", "Items must be of type 'message', 'function_call' or 'function_call_output'.");
            }

            if (item.Role is not ("user" or "assistant" or "system" or "developer"))
            {
                return ApiErrors.InvalidParameter(param + ".role", "'role' must be one of user, assistant, system, developer.");
            }

            if (Text(item.Content) is not { } text)
            {
                return ApiErrors.InvalidParameter(param + ".content",
                    "'content' must be a string or an array of text parts ({\"type\":\"input_text\",\"text\":\"...\"}).");
            }

            result.Add(new NewConversationItem(item.Role, text));
        }

        return result;
    }

    /// <summary>
    /// A <c>function_call</c> (<c>call_id</c>, <c>name</c>, <c>arguments</c> a JSON text) or a <c>function_call_output</c>
    /// (<c>call_id</c>, <c>output</c> a string), as OpenAI's Conversations API takes them.
    /// </summary>
    private static ApiResult<NewConversationItem> ToolItem(InputItemWire item, string param)
    {
        if (item.CallId is not { Length: > 0 } callId)
        {
            return ApiErrors.InvalidParameter(param + ".call_id", "'call_id' must be a non-empty string.");
        }

        if (item.Type == ConversationItemTypes.FunctionCallOutput)
        {
            return item.Output is { } output
                ? NewConversationItem.FunctionCallOutput(callId, output)
                : ApiErrors.InvalidParameter(param + ".output", "'output' must be a string.");
        }

        if (item.Name is not { Length: > 0 } name)
        {
            return ApiErrors.InvalidParameter(param + ".name", "'name' must be a non-empty string.");
        }

        if (item.Arguments is not { } arguments || !IsJsonObject(arguments))
        {
            return ApiErrors.InvalidParameter(param + ".arguments", "'arguments' must be a JSON object as a string.");
        }

        return NewConversationItem.FunctionCall(callId, name, arguments);
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The list parameters of the conversation lists: limit 1–100 (default 20), order, and an <c>after</c> checked by <paramref name="isId"/>.</summary>
    public static ApiResult<PageRequest> Page(IQueryCollection query, Func<string, bool> isId, string idShape)
    {
        var read = ListQuery.Read(query, ConversationDefaults.DefaultPageSize, ConversationDefaults.MaxPageSize, isId, idShape);
        if (read.Error is { } error) return error;
        return new PageRequest(read.Value!.Limit, read.Value.Ascending ? ListOrder.Ascending : ListOrder.Descending, read.Value.After);
    }

    private static string? Text(JsonElement? content)
    {
        if (content is not { } element)
        {
            return null;
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            return element.GetString();
        }

        if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() == 0)
        {
            return null;
        }

        var text = new StringBuilder();
        foreach (var part in element.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object
                || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() is not ("input_text" or "output_text" or "text")
                || !part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            if (text.Length > 0)
            {
                text.Append('\n');
            }

            text.Append(partText.GetString());
        }

        return text.ToString();
    }
}
