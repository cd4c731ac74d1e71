using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceMesh.ContextStore.Responses;
using InferenceMesh.Gateway.Inference;

namespace InferenceMesh.Gateway.Responses;

/// <summary>
/// A response's input as the Responses API lists it (<c>GET /v1/responses/{id}/input_items</c>): every item with an id of
/// its own and <c>status</c> "completed" — a <c>message</c> (string content becomes one <c>input_text</c> part, or
/// <c>output_text</c> for an assistant), a <c>function_call</c> or a <c>function_call_output</c>. A response that followed
/// others (<c>previous_response_id</c>) was generated from their inputs and outputs too: its list is the stored chain's
/// items, oldest first, then its own input. Holds prompt text: never log it.
/// </summary>
internal static class ResponseInputItems
{
    /// <summary>The prefixes of the ids items get here (output items keep theirs: <c>msg_</c>, <c>fc_</c>).</summary>
    private static readonly string[] Prefixes = ["msg_", "fc_", "fco_"];

    /// <summary>The items of an input already validated by <see cref="ResponseChatRequest.Messages"/>.</summary>
    public static JsonArray From(JsonElement input)
    {
        if (input.ValueKind == JsonValueKind.String)
        {
            return [Message("user", input)];
        }

        var items = new JsonArray();
        foreach (var item in input.EnumerateArray())
        {
            var type = item.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : "message";
            items.Add(type switch
            {
                "function_call" => new JsonObject
                {
                    ["id"] = InferenceService.NewId("fc_"), ["type"] = "function_call", ["status"] = "completed",
                    ["call_id"] = item.GetProperty("call_id").GetString(), ["name"] = item.GetProperty("name").GetString(),
                    ["arguments"] = item.GetProperty("arguments").GetString(),
                },
                "function_call_output" => new JsonObject
                {
                    ["id"] = InferenceService.NewId("fco_"), ["type"] = "function_call_output", ["status"] = "completed",
                    ["call_id"] = item.GetProperty("call_id").GetString(), ["output"] = JsonNode.Parse(item.GetProperty("output").GetRawText()),
                },
                _ => Message(item.GetProperty("role").GetString()!, item.GetProperty("content")),
            });
        }

        return items;
    }

    /// <summary>
    /// The items <paramref name="chain"/>'s last response was generated from, oldest first; null when a response of the
    /// chain was stored before input items were kept (schema version 1).
    /// </summary>
    public static List<JsonNode>? OfChain(IReadOnlyList<StoredResponse> chain)
    {
        var items = new List<JsonNode>();
        for (var i = 0; i < chain.Count; i++)
        {
            if (chain[i].InputItems is not { } input)
            {
                return null;
            }

            items.AddRange(JsonNode.Parse(input)!.AsArray().Select(item => item!.DeepClone()));
            if (i < chain.Count - 1 && JsonNode.Parse(chain[i].Response)?["output"] is JsonArray output)
            {
                items.AddRange(output.Select(item => item!.DeepClone()));
            }
        }

        return items;
    }

    /// <summary>True for an id of the shape items get: a known prefix and 24 lowercase hex digits.</summary>
    public static bool IsItemId(string id) =>
        Prefixes.FirstOrDefault(p => id.StartsWith(p, StringComparison.Ordinal)) is { } prefix
        && id.Length == prefix.Length + 24 && !id.AsSpan(prefix.Length).ContainsAnyExcept("0123456789abcdef");

    private static JsonObject Message(string role, JsonElement content)
    {
        JsonNode parts = content.ValueKind == JsonValueKind.String
            ? new JsonArray(role == "assistant"
                ? new JsonObject { ["type"] = "output_text", ["text"] = content.GetString(), ["annotations"] = new JsonArray() }
                : new JsonObject { ["type"] = "input_text", ["text"] = content.GetString() })
            : JsonNode.Parse(content.GetRawText())!;
        return new JsonObject { ["id"] = InferenceService.NewId("msg_"), ["type"] = "message", ["status"] = "completed", ["role"] = role, ["content"] = parts };
    }
}
