using System.Text.Json;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// The tool part of <see cref="AnthropicRequestTranslator"/>: OpenAI function <c>tools</c>, <c>tool_choice</c> and
/// <c>parallel_tool_calls</c> → Anthropic <c>tools</c> and <c>tool_choice</c>; an assistant message's <c>tool_calls</c> →
/// <c>tool_use</c> blocks; a tool message → a <c>tool_result</c> block. Malformed values are a 400
/// <c>invalid_request_error</c> naming the field (as OpenAI answers them); tool types other than function are
/// <c>unsupported_by_backend</c>.
/// </summary>
internal static class AnthropicToolTranslator
{
    /// <summary>Anthropic requires an input schema; OpenAI lets a function without parameters leave it out.</summary>
    private static readonly JsonElement NoParameters = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement.Clone();

    /// <summary>The tools and the choice to send; both null when the request has no tools.</summary>
    public static ApiResult<(IReadOnlyList<AnthropicTool>? Tools, AnthropicToolChoice? Choice)> Translate(Dictionary<string, JsonElement>? fields)
    {
        var tools = new List<AnthropicTool>();
        if (fields is not null && fields.TryGetValue("tools", out var declared) && declared.ValueKind != JsonValueKind.Null)
        {
            if (declared.ValueKind != JsonValueKind.Array)
            {
                return ApiErrors.InvalidParameter("tools", "'tools' must be an array of {\"type\":\"function\",\"function\":{\"name\",\"description\",\"parameters\"}} objects.");
            }

            var i = 0;
            foreach (var tool in declared.EnumerateArray())
            {
                var translated = Tool(tool, $"tools[{i}]");
                if (translated.Error is { } error)
                {
                    return error;
                }

                tools.Add(translated.Value!);
                i++;
            }
        }

        var choice = Choice(fields, tools);
        if (choice.Error is { } choiceError)
        {
            return choiceError;
        }

        if (tools.Count == 0)
        {
            return (null, null);
        }

        var parallel = fields!.TryGetValue("parallel_tool_calls", out var p) ? p : default;
        if (parallel.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.True or JsonValueKind.False))
        {
            return ApiErrors.InvalidParameter("parallel_tool_calls", "'parallel_tool_calls' must be a boolean.");
        }

        var chosen = choice.Value;
        if (parallel.ValueKind == JsonValueKind.False && chosen?.Type != "none")
        {
            // Anthropic's default choice is auto; disable_parallel_tool_use is a property of the choice.
            chosen = (chosen ?? new AnthropicToolChoice("auto")) with { DisableParallelToolUse = true };
        }

        return (tools, chosen);
    }

    /// <summary>Appends an assistant message's <c>tool_calls</c> as <c>tool_use</c> blocks (the arguments string parsed to the input object).</summary>
    public static ApiError? AppendToolUses(JsonElement? toolCalls, string param, List<AnthropicContentBlock> blocks)
    {
        if (toolCalls is not { } calls || calls.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (calls.ValueKind != JsonValueKind.Array)
        {
            return ApiErrors.InvalidParameter(param, "'tool_calls' must be an array of {\"id\",\"type\":\"function\",\"function\":{\"name\",\"arguments\"}} objects.");
        }

        var j = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var at = $"{param}[{j}]";
            if (call.ValueKind != JsonValueKind.Object)
            {
                return ApiErrors.InvalidParameter(at, "Each tool call must be an object {\"id\",\"type\":\"function\",\"function\":{\"name\",\"arguments\"}}.");
            }

            if (FunctionType(call, at) is { } typeError)
            {
                return typeError;
            }

            if (NonEmptyString(call, "id") is not { } id)
            {
                return ApiErrors.InvalidParameter($"{at}.id", "Each tool call needs a non-empty string 'id'.");
            }

            if (!call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object || NonEmptyString(function, "name") is not { } name)
            {
                return ApiErrors.InvalidParameter($"{at}.function.name", "Each tool call needs 'function' with a non-empty string 'name'.");
            }

            if (ArgumentsObject(function) is not { } input)
            {
                return ApiErrors.InvalidParameter($"{at}.function.arguments", "'function.arguments' must be a string holding a JSON object (e.g. \"{}\").");
            }

            blocks.Add(AnthropicContentBlock.OfToolUse(id, name, input));
            j++;
        }

        return null;
    }

    /// <summary>
    /// For a request that declares no tools although its history holds tool calls: Anthropic refuses tool_use and tool_result
    /// blocks in a request without tools ("Requests which include tool_use or tool_result blocks must define tools"), so the
    /// tools the history called are declared (no schema) and never offered (<c>tool_choice</c> none): the answer is text, as
    /// the client asked by sending no tools. Null when the history called none.
    /// </summary>
    public static (IReadOnlyList<AnthropicTool> Tools, AnthropicToolChoice Choice)? ForHistory(IEnumerable<AnthropicContentBlock> blocks)
    {
        var called = blocks.Where(b => b.Type == AnthropicContentBlock.ToolUseType).Select(b => b.Name!).Distinct(StringComparer.Ordinal).ToList();
        return called.Count == 0 ? null : ([.. called.Select(name => new AnthropicTool(name, null, NoParameters))], new AnthropicToolChoice("none"));
    }

    /// <summary>A tool message's <c>tool_call_id</c>, or the error naming it.</summary>
    public static ApiResult<string> ToolCallId(ChatMessageWire message, string param) =>
        message.ToolCallId is { ValueKind: JsonValueKind.String } id && id.GetString() is { Length: > 0 } value
            ? value
            : ApiErrors.InvalidParameter(param, "A tool message needs a non-empty string 'tool_call_id': the id of the tool call it answers.");

    private static ApiResult<AnthropicTool> Tool(JsonElement tool, string param)
    {
        if (tool.ValueKind != JsonValueKind.Object)
        {
            return ApiErrors.InvalidParameter(param, "Each tool must be an object {\"type\":\"function\",\"function\":{\"name\",\"description\",\"parameters\"}}.");
        }

        if (FunctionType(tool, param) is { } typeError)
        {
            return typeError;
        }

        if (!tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object || NonEmptyString(function, "name") is not { } name)
        {
            return ApiErrors.InvalidParameter($"{param}.function.name", "Each tool needs 'function' with a non-empty string 'name'.");
        }

        string? description = null;
        if (function.TryGetProperty("description", out var d) && d.ValueKind != JsonValueKind.Null)
        {
            if (d.ValueKind != JsonValueKind.String)
            {
                return ApiErrors.InvalidParameter($"{param}.function.description", "'description' must be a string.");
            }

            description = d.GetString() is { Length: > 0 } text ? text : null;
        }

        var schema = NoParameters;
        if (function.TryGetProperty("parameters", out var parameters) && parameters.ValueKind != JsonValueKind.Null)
        {
            if (parameters.ValueKind != JsonValueKind.Object)
            {
                return ApiErrors.InvalidParameter($"{param}.function.parameters", "'parameters' must be a JSON Schema object.");
            }

            schema = parameters;
        }

        return new AnthropicTool(name, description, schema);
    }

    /// <summary>auto → auto, required → any, none → none, a named function → tool; auto and none without tools are left out.</summary>
    private static ApiResult<AnthropicToolChoice?> Choice(Dictionary<string, JsonElement>? fields, List<AnthropicTool> tools)
    {
        if (fields is null || !fields.TryGetValue("tool_choice", out var choice) || choice.ValueKind == JsonValueKind.Null)
        {
            return new ApiResult<AnthropicToolChoice?>(null, null);
        }

        AnthropicToolChoice? translated;
        if (choice.ValueKind == JsonValueKind.String)
        {
            translated = choice.GetString() switch
            {
                "auto" => new AnthropicToolChoice("auto"),
                "required" => new AnthropicToolChoice("any"),
                "none" => new AnthropicToolChoice("none"),
                _ => null,
            };
            if (translated is null)
            {
                return ApiErrors.InvalidParameter("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\":\"function\",\"function\":{\"name\"}}.");
            }
        }
        else if (choice.ValueKind == JsonValueKind.Object)
        {
            if (FunctionType(choice, "tool_choice") is { } typeError)
            {
                return typeError;
            }

            if (!choice.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object || NonEmptyString(function, "name") is not { } name)
            {
                return ApiErrors.InvalidParameter("tool_choice.function.name", "'tool_choice' must name the function: {\"type\":\"function\",\"function\":{\"name\"}}.");
            }

            if (!tools.Any(t => t.Name == name))
            {
                return ApiErrors.InvalidParameter("tool_choice.function.name", $"'tool_choice' names a function that is not among 'tools'.");
            }

            translated = new AnthropicToolChoice("tool", name);
        }
        else
        {
            return ApiErrors.InvalidParameter("tool_choice", "'tool_choice' must be a string or an object.");
        }

        if (tools.Count == 0)
        {
            // Nothing to choose from: auto and none mean a text answer anyway; a demand for a tool call cannot be met.
            return translated.Type is "auto" or "none"
                ? new ApiResult<AnthropicToolChoice?>(null, null)
                : ApiErrors.InvalidParameter("tool_choice", "'tool_choice' asks for a tool call but the request has no 'tools'.");
        }

        return translated;
    }

    /// <summary>Null when <c>type</c> is "function" (or absent, as in a tool call); a non-function type is not translated yet.</summary>
    private static ApiError? FunctionType(JsonElement element, string param)
    {
        if (!element.TryGetProperty("type", out var type) || type.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (type.ValueKind != JsonValueKind.String)
        {
            return ApiErrors.InvalidParameter($"{param}.type", "'type' must be a string.");
        }

        return type.GetString() == "function"
            ? null
            : AnthropicRequestTranslator.Unsupported($"{param}.type", $"'{type.GetString()}' tools are not supported by the Anthropic backend; only function tools are.");
    }

    private static string? NonEmptyString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;

    /// <summary>The arguments string parsed, when it is a JSON object.</summary>
    private static JsonElement? ArgumentsObject(JsonElement function)
    {
        if (!function.TryGetProperty("arguments", out var arguments) || arguments.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(arguments.GetString()!);
            return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
