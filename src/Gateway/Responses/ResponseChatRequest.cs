using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Responses;

/// <summary>
/// A Responses API request as the chat-completions body the router, the local engine and every backend understand:
/// <c>instructions</c> and <c>input</c> (messages, function calls and their outputs) become <c>messages</c>;
/// <c>max_output_tokens</c>, <c>text.format</c>, <c>include</c> logprobs and the function <c>tools</c> become their chat
/// equivalents, <c>reasoning.effort</c> and <c>text.verbosity</c> chat's <c>reasoning_effort</c> and <c>verbosity</c>
/// (<see cref="ResponseSettings"/>); the shared sampling fields and any other field pass as sent (all of it is classified, like
/// a chat body). A stream always asks for usage (<c>stream_options.include_usage</c>): the final response carries it.
/// </summary>
internal static class ResponseChatRequest
{
    /// <summary>Responses fields with no chat counterpart, or translated below: never forwarded as they are.</summary>
    private static readonly string[] ResponsesOnly =
    [
        "input", "instructions", "max_output_tokens", "text", "metadata", "store", "previous_response_id", "include", "top_logprobs",
        "truncation", "reasoning", "background", "conversation", "prompt", "tools", "tool_choice", "parallel_tool_calls",
    ];

    /// <summary>Chat fields that are not Responses fields: a Responses request carrying them does not mean them (chat's limits are not read).</summary>
    private static readonly string[] ChatOnly =
        ["messages", "max_tokens", "max_completion_tokens", "stream_options", "response_format", "logprobs", "functions", "function_call", "n"];

    /// <summary>
    /// The chat body for <paramref name="request"/> (its <paramref name="settings"/> read by <see cref="ResponseSettings.Read"/>)
    /// with <paramref name="earlier"/> (a stored chain's messages) before its own input, or an error naming the Responses field.
    /// </summary>
    public static ApiResult<byte[]> Translate(ResponseRequest request, ResponseSettings settings, JsonArray? earlier = null)
    {
        if (request.MaxOutputTokens is < 1)
        {
            return ApiErrors.InvalidParameter("max_output_tokens", "'max_output_tokens' must be at least 1.");
        }

        if (Refuse(request) is { } refused) return refused;
        var messages = Messages(request.Instructions, request.Input, earlier);
        if (messages.Error is { } messagesError) return messagesError;
        var format = ResponseFormat(request.Text);
        if (format.Error is { } formatError) return formatError;
        var logProbs = LogProbs.Requested(request);
        if (logProbs.Error is { } logProbsError) return logProbsError;
        var tools = ResponseTools.Translate(request.Extensions);
        if (tools.Error is { } toolsError) return toolsError;

        var body = JsonSerializer.SerializeToNode(request, OpenAiJsonContext.Default.ResponseRequest)!.AsObject();
        foreach (var name in (string[])[.. ResponsesOnly, .. ChatOnly])
        {
            body.Remove(name);
        }

        body["messages"] = messages.Value;
        if (request.MaxOutputTokens is { } max) body["max_completion_tokens"] = max;
        if (request.Stream == true) body["stream_options"] = new JsonObject { ["include_usage"] = true };
        if (format.Value is { } responseFormat) body["response_format"] = responseFormat;
        if (settings.Effort is { } effort) body["reasoning_effort"] = effort;
        if (settings.Verbosity is { } verbosity) body["verbosity"] = verbosity;
        if (logProbs.Value is { } top)
        {
            body["logprobs"] = true;
            body["top_logprobs"] = top;
        }

        foreach (var (name, value) in tools.Value!)
        {
            body[name] = value;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            body.WriteTo(writer);
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// The messages of <c>instructions</c> (a system message first) and <c>input</c>: a string (one user message) or a
    /// non-empty array of items: messages (<c>{"type"?: "message", "role", "content"}</c>), <c>function_call</c> (an
    /// assistant message's tool call; calls in a row are one message, as a model's parallel calls are) and
    /// <c>function_call_output</c> (a tool message). Other items (reasoning, item references, hosted tools' calls) are
    /// refused with <c>unsupported_parameter</c> naming where they are.
    /// </summary>
    public static ApiResult<JsonArray> Messages(string? instructions, JsonElement? input, JsonArray? earlier = null)
    {
        var result = new JsonArray();
        if (!string.IsNullOrEmpty(instructions))
        {
            // OpenAI: instructions apply to this response only; a chained earlier response's instructions are not carried over.
            result.Add(Message("system", instructions));
        }

        foreach (var message in earlier ?? [])
        {
            result.Add(message!.DeepClone());
        }

        if (input is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return ApiErrors.MissingParameter("input");
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            result.Add(Message("user", element.GetString()!));
            return result;
        }

        if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() == 0)
        {
            return ApiErrors.InvalidParameter("input", "'input' must be a string or a non-empty array of input items.");
        }

        var i = 0;
        foreach (var item in element.EnumerateArray())
        {
            var param = $"input[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                return ApiErrors.InvalidParameter(param, "Each input item must be an object: a message {\"role\", \"content\"}, a function_call or a function_call_output.");
            }

            var type = "message";
            if (item.TryGetProperty("type", out var typeElement) && typeElement.ValueKind != JsonValueKind.Null)
            {
                if (typeElement.ValueKind != JsonValueKind.String)
                {
                    return ApiErrors.InvalidParameter($"{param}.type", "'type' must be a string.");
                }

                type = typeElement.GetString()!;
            }

            var added = type switch
            {
                "message" => MessageItem(item, param),
                "function_call" => FunctionCallItem(item, param, result),
                "function_call_output" => FunctionCallOutputItem(item, param),
                _ => ApiErrors.UnsupportedParameter(param,
                    $"Input items of type '{type}' are not supported here: send messages, function_call and function_call_output items."),
            };
            if (added.Error is { } error) return error;
            if (added.Value is { } message)
            {
                result.Add(message);
            }
        }

        return result;
    }

    /// <summary>A response's output as the one assistant message a later turn is given: its text and its function calls; null for neither.</summary>
    public static JsonObject? AssistantMessage(IReadOnlyList<ResponseOutputItem> output)
    {
        var text = string.Concat(output.OfType<ResponseOutputMessage>().SelectMany(m => m.Content).Select(p => p.Text));
        var calls = new JsonArray();
        foreach (var call in output.OfType<ResponseFunctionCall>())
        {
            calls.Add(new JsonObject
            {
                ["id"] = call.CallId, ["type"] = "function", ["function"] = new JsonObject { ["name"] = call.Name, ["arguments"] = call.Arguments },
            });
        }

        if (text.Length == 0 && calls.Count == 0)
        {
            return null;
        }

        var message = new JsonObject { ["role"] = "assistant", ["content"] = text.Length > 0 ? text : null };
        if (calls.Count > 0)
        {
            message["tool_calls"] = calls;
        }

        return message;
    }

    /// <summary>Messages as the chat pipeline reads them; a copy of an item never aliases another node.</summary>
    private static JsonObject Message(string role, string content) => new() { ["role"] = role, ["content"] = content };

    private static ApiResult<JsonObject?> MessageItem(JsonElement item, string param)
    {
        var role = item.TryGetProperty("role", out var roleElement) && roleElement.ValueKind == JsonValueKind.String ? roleElement.GetString() : null;
        if (role is not ("user" or "assistant" or "system" or "developer"))
        {
            return ApiErrors.InvalidParameter($"{param}.role", "'role' must be one of user, assistant, system, developer.");
        }

        if (!item.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
        {
            return ApiErrors.MissingParameter($"{param}.content");
        }

        var text = PromptInputs.ResponseContent(content, $"{param}.content");
        return text.Error is { } error ? error : Message(role, text.Value!);
    }

    /// <summary>An earlier call of the model: joins the assistant message just before it (its text or its other calls), else starts one.</summary>
    private static ApiResult<JsonObject?> FunctionCallItem(JsonElement item, string param, JsonArray messages)
    {
        var callId = RequiredString(item, param, "call_id");
        if (callId.Error is { } callIdError) return callIdError;
        var name = RequiredString(item, param, "name");
        if (name.Error is { } nameError) return nameError;
        var arguments = RequiredString(item, param, "arguments");
        if (arguments.Error is { } argumentsError) return argumentsError;

        var call = new JsonObject
        {
            ["id"] = callId.Value, ["type"] = "function", ["function"] = new JsonObject { ["name"] = name.Value, ["arguments"] = arguments.Value },
        };
        if (messages.Count > 0 && messages[^1] is JsonObject last && (string?)last["role"] == "assistant")
        {
            if (last["tool_calls"] is not JsonArray calls)
            {
                last["tool_calls"] = calls = [];
            }

            calls.Add(call);
            return new ApiResult<JsonObject?>(null, null);
        }

        return new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(call) };
    }

    private static ApiResult<JsonObject?> FunctionCallOutputItem(JsonElement item, string param)
    {
        var callId = RequiredString(item, param, "call_id");
        if (callId.Error is { } callIdError) return callIdError;
        if (!item.TryGetProperty("output", out var output) || output.ValueKind == JsonValueKind.Null)
        {
            return ApiErrors.MissingParameter($"{param}.output");
        }

        var text = PromptInputs.ResponseContent(output, $"{param}.output");
        if (text.Error is { } error) return error;
        return new JsonObject { ["role"] = "tool", ["tool_call_id"] = callId.Value, ["content"] = text.Value };
    }

    private static ApiResult<string> RequiredString(JsonElement item, string param, string name)
    {
        if (!item.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return ApiErrors.MissingParameter($"{param}.{name}");
        }

        return value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? text
            : ApiErrors.InvalidParameter($"{param}.{name}", $"'{name}' must be a non-empty string.");
    }

    /// <summary><c>text.format</c> as chat's <c>response_format</c> (null for none or text); its schema is checked where it is served.</summary>
    private static ApiResult<JsonNode?> ResponseFormat(JsonElement? text)
    {
        if (text is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return new ApiResult<JsonNode?>(null, null);
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            return ApiErrors.InvalidParameter("text", "'text' must be an object: {\"format\": {\"type\": ...}}.");
        }

        if (!element.TryGetProperty("format", out var format) || format.ValueKind == JsonValueKind.Null)
        {
            return new ApiResult<JsonNode?>(null, null);
        }

        if (format.ValueKind != JsonValueKind.Object || !format.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return ApiErrors.InvalidParameter("text.format", "'text.format' must be an object with a string 'type': text, json_object or json_schema.");
        }

        switch (type.GetString())
        {
            case "text":
                return new ApiResult<JsonNode?>(null, null);
            case "json_object":
                return new JsonObject { ["type"] = "json_object" };
            case "json_schema":
                // Chat nests the schema's fields under json_schema; the Responses API puts them in the format itself.
                var schema = new JsonObject();
                foreach (var property in format.EnumerateObject())
                {
                    if (property.Name != "type")
                    {
                        schema[property.Name] = JsonNode.Parse(property.Value.GetRawText());
                    }
                }

                return new JsonObject { ["type"] = "json_schema", ["json_schema"] = schema };
            default:
                return ApiErrors.UnsupportedParameter("text.format.type", "'text.format.type' must be text, json_object or json_schema.");
        }
    }

    /// <summary>What stays refused: background responses and OpenAI-side state (conversations, stored prompts).</summary>
    private static ApiError? Refuse(ResponseRequest request)
    {
        if (request.Extensions is not { } fields)
        {
            return null;
        }

        if (fields.TryGetValue("background", out var background) && background.ValueKind == JsonValueKind.True)
        {
            return ApiErrors.UnsupportedParameter("background", "'background' is not supported: a response is answered while the request waits.");
        }

        foreach (var stored in (string[])["conversation", "prompt"])
        {
            if (fields.TryGetValue(stored, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                return ApiErrors.UnsupportedParameter(stored, $"'{stored}' is not supported by /v1/responses here: it names state stored on OpenAI's side. Send the whole input.");
            }
        }

        return null;
    }
}
