using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Inference;

/// <summary>
/// Tool calls on the local model, in llama.cpp's "generic" form: the tools are described to the model in a system
/// message, and a grammar keeps its answer to one JSON object, either <c>{"tool_calls": [{"name", "arguments"}]}</c>
/// (each call's arguments under that function's parameter schema) or <c>{"response": "…"}</c>. <c>tool_choice</c>
/// <c>"required"</c> or a named function leaves only the calls (of that function); <c>parallel_tool_calls: false</c>
/// allows one call. A function with <c>strict: true</c> gets its schema enforced in full or is refused (as
/// <c>response_format</c>); without it, what the grammar cannot enforce (<c>format</c>, <c>minimum</c>, …) is read past.
/// </summary>
public static partial class LocalTools
{
    /// <summary>At most this many tools per request (OpenAI's limit).</summary>
    public const int MaxTools = 128;

    /// <summary>At most this many calls in one answer when parallel calls are allowed.</summary>
    public const int MaxParallelCalls = 8;

    /// <summary>What the local step does with a request's tools: the system message and the grammar.</summary>
    public sealed record Plan(string Instructions, string Grammar);

    /// <summary>
    /// A parsed answer: text, or tool calls (name and arguments as JSON text); <paramref name="Complete"/> when its envelope
    /// closed; <paramref name="Stopped"/> when the text ended at a stop string.
    /// </summary>
    public sealed record Answer(string? Content, IReadOnlyList<(string Name, string Arguments)>? Calls, bool Complete, bool Stopped = false)
    {
        /// <summary>
        /// <c>tool_calls</c> for calls in a whole envelope; <c>stop</c> for text ended by a stop string; otherwise the
        /// generation's own reason (a cut one's <c>length</c>).
        /// </summary>
        public string FinishReason(FinishReason generation) =>
            Calls is { Count: > 0 } && Complete ? "tool_calls" : Stopped ? "stop" : RunningGeneration.FinishReasonText(generation);
    }

    /// <summary>The plan for a request's tools; null when it has none (or <c>tool_choice</c> is <c>"none"</c>); an error naming the field when they are malformed.</summary>
    public static ApiResult<Plan?> For(ChatCompletionRequest request)
    {
        var fields = request.Extensions;
        JsonElement choice = default;
        fields?.TryGetValue("tool_choice", out choice);
        if (fields is null || !fields.TryGetValue("tools", out var tools) || tools.ValueKind == JsonValueKind.Null
            || (tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() == 0))
        {
            return choice.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null || (choice.ValueKind == JsonValueKind.String && choice.GetString() is "none" or "auto")
                ? new ApiResult<Plan?>(null, null)
                : ApiErrors.InvalidParameter("tool_choice", "'tool_choice' needs 'tools' to choose from.");
        }

        if (choice.ValueKind == JsonValueKind.String && choice.GetString() == "none")
        {
            return new ApiResult<Plan?>(null, null);
        }

        if (tools.ValueKind != JsonValueKind.Array || tools.GetArrayLength() > MaxTools)
        {
            return ApiErrors.InvalidParameter("tools", $"'tools' must be an array of at most {MaxTools} function tools.");
        }

        var functions = new List<(string Name, string? Description, JsonElement Parameters, bool Strict)>();
        for (var i = 0; i < tools.GetArrayLength(); i++)
        {
            var tool = tools[i];
            if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "function")
            {
                return ApiErrors.UnsupportedParameter($"tools[{i}].type", "The local model supports tools of type \"function\" only.");
            }

            if (!tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
                || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || !FunctionName().IsMatch(name.GetString()!))
            {
                return ApiErrors.InvalidParameter($"tools[{i}].function.name", "Each function needs a 'name' of 1 to 64 letters, digits, '_' or '-'.");
            }

            if (functions.Any(f => f.Name == name.GetString()))
            {
                return ApiErrors.InvalidParameter($"tools[{i}].function.name", $"The function name '{name.GetString()}' is given twice.");
            }

            var parameters = function.TryGetProperty("parameters", out var declared) && declared.ValueKind != JsonValueKind.Null ? declared : default;
            if (parameters.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Object))
            {
                return ApiErrors.InvalidParameter($"tools[{i}].function.parameters", "'parameters' must be a JSON Schema object.");
            }

            var strict = function.TryGetProperty("strict", out var s) && s.ValueKind == JsonValueKind.True;
            if (strict && parameters.ValueKind == JsonValueKind.Object && JsonSchemaGrammar.Convert(parameters).Error is { } error)
            {
                return ApiErrors.UnsupportedParameter($"tools[{i}].function.parameters",
                    $"The local model cannot guarantee this strict function's schema: {error} (see the gateway README for what a schema may use).");
            }

            var description = function.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            functions.Add((name.GetString()!, description, parameters, strict));
        }

        var only = Choice(choice, functions.Select(f => f.Name).ToList());
        if (only.Error is { } choiceError)
        {
            return choiceError;
        }

        var parallel = !(fields.TryGetValue("parallel_tool_calls", out var p) && p.ValueKind == JsonValueKind.False);
        var callable = only.Value is { Name: { } named } ? functions.Where(f => f.Name == named).ToList() : functions;
        var schema = Envelope(callable.Select(f => (f.Name, f.Parameters)).ToList(), only.Value is not null, parallel);
        using var document = JsonDocument.Parse(schema.ToJsonString());
        var (grammar, grammarError) = JsonSchemaGrammar.Convert(document.RootElement, lenient: true);
        if (grammar is null)
        {
            return ApiErrors.UnsupportedParameter("tools", $"The local model cannot turn these tools into a grammar: {grammarError}");
        }

        return new Plan(Instructions(functions, only.Value, parallel), grammar);
    }

    /// <summary>
    /// Reads a whole generated answer as a stream reads it (<see cref="ToolEnvelopeReader"/>), so both give the client
    /// the same: the calls, the response text (ended before the first of <paramref name="stops"/> in it), or for an
    /// envelope cut before it closed (max_tokens) what it held so far (the calls begun, the last one's arguments cut;
    /// the text so far). Text that is not an envelope at all (never expected under the grammar) comes as it is.
    /// </summary>
    public static Answer Read(string text, IReadOnlyList<string>? stops = null)
    {
        var reader = new ToolEnvelopeReader(stops);
        reader.Append(text);
        reader.Finish();
        return reader.Answer();
    }

    /// <summary>
    /// The messages with each assistant message's earlier <c>tool_calls</c> written after its text, as the local model
    /// is asked to write them, so a conversation shows it its own calls. The client's messages are the last ones (the
    /// context stages only add before them); when the counts do not allow that, the messages are left as they are.
    /// Only the local prompt gets this: the classifier reads the messages as the client wrote them.
    /// </summary>
    public static IReadOnlyList<ChatMessage> WithEarlierCalls(IReadOnlyList<ChatMessage> messages, List<ChatMessageWire?>? wire)
    {
        if (wire is null || wire.Count > messages.Count || !wire.Any(m => m?.ToolCalls is { ValueKind: JsonValueKind.Array }))
        {
            return messages;
        }

        var result = messages.ToList();
        for (var i = 0; i < wire.Count; i++)
        {
            var at = messages.Count - wire.Count + i;
            if (wire[i] is { Role: "assistant" } message && result[at].Role == "assistant" && RenderCalls(message.ToolCalls) is { } calls)
            {
                result[at] = result[at] with { Content = result[at].Content.Length > 0 ? result[at].Content + "\n" + calls : calls };
            }
        }

        return result;
    }

    /// <summary>An assistant message's <c>tool_calls</c> in the local format; null when there are none or they are malformed.</summary>
    private static string? RenderCalls(JsonElement? toolCalls)
    {
        if (toolCalls is not { ValueKind: JsonValueKind.Array } calls || calls.GetArrayLength() == 0)
        {
            return null;
        }

        var rendered = new JsonArray();
        foreach (var call in calls.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
                || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            JsonNode? arguments = null;
            if (function.TryGetProperty("arguments", out var text) && text.ValueKind == JsonValueKind.String)
            {
                try
                {
                    arguments = JsonNode.Parse(text.GetString()!);
                }
                catch (JsonException)
                {
                    arguments = JsonValue.Create(text.GetString());
                }
            }

            rendered.Add(new JsonObject { ["name"] = name.GetString(), ["arguments"] = arguments ?? new JsonObject() });
        }

        return new JsonObject { ["tool_calls"] = rendered }.ToJsonString();
    }

    private static ApiResult<(string? Name, bool Required)?> Choice(JsonElement choice, IReadOnlyList<string> names)
    {
        switch (choice.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return new ApiResult<(string?, bool)?>(null, null);
            case JsonValueKind.String when choice.GetString() == "auto":
                return new ApiResult<(string?, bool)?>(null, null);
            case JsonValueKind.String when choice.GetString() == "required":
                return new ApiResult<(string?, bool)?>((null, true), null);
            case JsonValueKind.Object when choice.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
                && function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String:
                return names.Contains(name.GetString()!)
                    ? new ApiResult<(string?, bool)?>((name.GetString(), true), null)
                    : ApiErrors.InvalidParameter("tool_choice", $"'tool_choice' names the function '{name.GetString()}', which is not among 'tools'.");
            default:
                return ApiErrors.InvalidParameter("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":…}}.");
        }
    }

    /// <summary>
    /// The JSON Schema of the answer. Each function's parameters go under <c>$defs</c> (their own <c>$defs</c> beside
    /// them, renamed per function, and their references with them), so <c>$ref</c> inside a schema keeps working.
    /// </summary>
    private static JsonObject Envelope(IReadOnlyList<(string Name, JsonElement Parameters)> functions, bool callRequired, bool parallel)
    {
        var definitions = new JsonObject();
        var calls = new JsonArray();
        for (var i = 0; i < functions.Count; i++)
        {
            var (name, parameters) = functions[i];
            var prefix = $"t{i}_";
            var root = parameters.ValueKind == JsonValueKind.Object ? JsonNode.Parse(parameters.GetRawText())!.AsObject() : new JsonObject { ["type"] = "object" };
            Rebase(root, prefix);
            foreach (var key in (ReadOnlySpan<string>)["$defs", "definitions"])
            {
                if (root[key] is JsonObject nested)
                {
                    foreach (var (defName, definition) in nested.ToList())
                    {
                        nested.Remove(defName);
                        definitions[prefix + defName] = definition;
                    }

                    root.Remove(key);
                }
            }

            definitions[prefix + "root"] = root;
            calls.Add(new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject { ["name"] = new JsonObject { ["const"] = name }, ["arguments"] = new JsonObject { ["$ref"] = $"#/$defs/{prefix}root" } },
                ["required"] = new JsonArray("name", "arguments"),
                ["additionalProperties"] = false,
            });
        }

        var callList = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["tool_calls"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["anyOf"] = calls }, ["minItems"] = 1, ["maxItems"] = parallel ? MaxParallelCalls : 1 },
            },
            ["required"] = new JsonArray("tool_calls"),
            ["additionalProperties"] = false,
        };
        var response = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject { ["response"] = new JsonObject { ["type"] = "string" } },
            ["required"] = new JsonArray("response"),
            ["additionalProperties"] = false,
        };
        return new JsonObject
        {
            ["$defs"] = definitions,
            ["anyOf"] = callRequired ? new JsonArray(callList) : new JsonArray(callList, response),
        };

        // A reference inside a function's schema ("#", "#/$defs/x", "#/definitions/x") is made to point into the envelope.
        static void Rebase(JsonNode? node, string prefix)
        {
            switch (node)
            {
                case JsonObject map:
                    foreach (var (key, value) in map.ToList())
                    {
                        if (key == "$ref" && value is JsonValue reference && reference.TryGetValue<string>(out var target))
                        {
                            map[key] = target switch
                            {
                                "#" => $"#/$defs/{prefix}root",
                                _ when target.StartsWith("#/$defs/", StringComparison.Ordinal) => $"#/$defs/{prefix}{target["#/$defs/".Length..]}",
                                _ when target.StartsWith("#/definitions/", StringComparison.Ordinal) => $"#/$defs/{prefix}{target["#/definitions/".Length..]}",
                                _ => target,
                            };
                        }
                        else
                        {
                            Rebase(value, prefix);
                        }
                    }

                    break;
                case JsonArray list:
                    foreach (var item in list)
                    {
                        Rebase(item, prefix);
                    }

                    break;
            }
        }
    }


    private static string Instructions(IReadOnlyList<(string Name, string? Description, JsonElement Parameters, bool Strict)> functions, (string? Name, bool Required)? only, bool parallel)
    {
        var list = new JsonArray();
        foreach (var (name, description, parameters, _) in functions)
        {
            var entry = new JsonObject { ["name"] = name };
            if (description is not null) entry["description"] = description;
            entry["parameters"] = parameters.ValueKind == JsonValueKind.Object ? JsonNode.Parse(parameters.GetRawText()) : new JsonObject { ["type"] = "object" };
            list.Add(entry);
        }

        var text = new StringBuilder("You can call these tools:\n").Append(list.ToJsonString()).Append('\n');
        text.Append(only switch
        {
            { Name: { } name } => $"Call the tool \"{name}\": answer only with {{\"tool_calls\": [{{\"name\": \"{name}\", \"arguments\": {{...}}}}]}}.",
            { Required: true } => "Call one or more of them: answer only with {\"tool_calls\": [{\"name\": \"...\", \"arguments\": {...}}]}.",
            _ => "To call tools, answer only with {\"tool_calls\": [{\"name\": \"...\", \"arguments\": {...}}]}; to answer the user directly, answer only with {\"response\": \"...\"}.",
        });
        if (!parallel)
        {
            text.Append(" Call one tool at a time.");
        }

        return text.ToString();
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();
}
