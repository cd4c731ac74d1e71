using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;

namespace InferenceMesh.Gateway.Responses;

/// <summary>
/// The Responses API's function tools as chat's: <c>{"type":"function","name","description","parameters","strict"}</c>
/// becomes <c>{"type":"function","function":{…}}</c>, <c>tool_choice</c> <c>{"type":"function","name"}</c> becomes
/// <c>{"type":"function","function":{"name"}}</c> ("auto", "none" and "required" are the same words), and
/// <c>parallel_tool_calls</c> goes along with the tools. The chat pipeline checks the rest (names, schemas, the local grammar)
/// and its errors name the Responses field (<see cref="ResponseErrors"/>). Hosted tools (web search, file search, computer,
/// MCP, …) are refused: nothing here can run them.
/// </summary>
internal static class ResponseTools
{
    public static ApiResult<IReadOnlyList<(string Name, JsonNode? Value)>> Translate(Dictionary<string, JsonElement>? fields)
    {
        var result = new List<(string, JsonNode?)>();
        if (fields is null)
        {
            return result;
        }

        var hasTools = false;
        if (fields.TryGetValue("tools", out var tools) && tools.ValueKind != JsonValueKind.Null)
        {
            if (tools.ValueKind != JsonValueKind.Array)
            {
                return ApiErrors.InvalidParameter("tools", "'tools' must be an array of function tools.");
            }

            var translated = new JsonArray();
            var i = 0;
            foreach (var tool in tools.EnumerateArray())
            {
                var param = $"tools[{i++}]";
                if (tool.ValueKind != JsonValueKind.Object)
                {
                    return ApiErrors.InvalidParameter(param, "Each tool must be an object: {\"type\":\"function\",\"name\",\"parameters\"}.");
                }

                var type = tool.TryGetProperty("type", out var typeElement) && typeElement.ValueKind == JsonValueKind.String ? typeElement.GetString() : null;
                if (type != "function")
                {
                    return type is null
                        ? ApiErrors.MissingParameter($"{param}.type")
                        : ApiErrors.UnsupportedParameter($"{param}.type", $"Tools of type '{type}' are not supported here: only function tools, which the client runs.");
                }

                var function = new JsonObject();
                foreach (var property in tool.EnumerateObject())
                {
                    if (property.Name != "type")
                    {
                        function[property.Name] = JsonNode.Parse(property.Value.GetRawText());
                    }
                }

                translated.Add(new JsonObject { ["type"] = "function", ["function"] = function });
            }

            hasTools = translated.Count > 0;
            if (hasTools)
            {
                result.Add(("tools", translated));
            }
        }

        if (fields.TryGetValue("tool_choice", out var choice) && choice.ValueKind != JsonValueKind.Null)
        {
            if (choice.ValueKind == JsonValueKind.String)
            {
                result.Add(("tool_choice", choice.GetString()));
            }
            else if (choice.ValueKind == JsonValueKind.Object
                && choice.TryGetProperty("type", out var choiceType) && choiceType.ValueKind == JsonValueKind.String && choiceType.GetString() == "function")
            {
                if (!choice.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                {
                    return ApiErrors.InvalidParameter("tool_choice.name", "A function 'tool_choice' names the function: {\"type\":\"function\",\"name\":…}.");
                }

                result.Add(("tool_choice", new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name.GetString() } }));
            }
            else
            {
                return ApiErrors.UnsupportedParameter("tool_choice",
                    "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\":\"function\",\"name\":…} here: hosted tools are not supported.");
            }
        }

        if (fields.TryGetValue("parallel_tool_calls", out var parallel) && parallel.ValueKind != JsonValueKind.Null)
        {
            if (parallel.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return ApiErrors.InvalidParameter("parallel_tool_calls", "'parallel_tool_calls' must be true or false.");
            }

            if (hasTools)
            {
                result.Add(("parallel_tool_calls", parallel.GetBoolean())); // chat refuses it without tools
            }
        }

        return result;
    }
}
