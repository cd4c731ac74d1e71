using System.Text;
using System.Text.Json;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>
/// Assembles an answer's tool calls from what passes to the client: a message's <c>tool_calls</c>, or a stream's
/// <c>delta.tool_calls</c> pieces put together by <c>index</c> (the first piece of a call brings its id and name, the
/// next ones argument fragments). Holds answer content: never log it. Not thread-safe (one answer, one writer).
/// </summary>
public sealed class ToolCallAssembly
{
    private readonly SortedDictionary<int, (string? Id, string? Name, StringBuilder Arguments)> _calls = [];

    /// <summary>True when no call was seen.</summary>
    public bool IsEmpty => _calls.Count == 0;

    /// <summary>The calls so far, in index order; a call still without an id or a name is left out (it cannot be answered).</summary>
    public IReadOnlyList<AnsweredToolCall> Calls =>
        [.. _calls.Values.Where(c => c.Id is { Length: > 0 } && c.Name is { Length: > 0 }).Select(c => new AnsweredToolCall(c.Id!, c.Name!, c.Arguments.ToString()))];

    /// <summary>Adds typed calls or deltas (a call without <c>index</c> takes its place in the list).</summary>
    public void Add(IReadOnlyList<ChatToolCall>? calls)
    {
        for (var i = 0; calls is not null && i < calls.Count; i++)
        {
            Add(calls[i].Index ?? i, calls[i].Id, calls[i].Function.Name, calls[i].Function.Arguments);
        }
    }

    /// <summary>Adds a wire <c>tool_calls</c> array (a message's or a stream delta's); anything not of that shape is skipped.</summary>
    public void Add(JsonElement calls)
    {
        if (calls.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        var position = 0;
        foreach (var call in calls.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object)
            {
                position++;
                continue;
            }

            var index = call.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out var at) ? at : position;
            string? name = null, arguments = null;
            if (call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
            {
                name = String(function, "name");
                arguments = String(function, "arguments");
            }

            Add(index, String(call, "id"), name, arguments);
            position++;
        }
    }

    /// <summary>Forgets every call (a broken stream whose calls were cut).</summary>
    public void Clear() => _calls.Clear();

    private void Add(int index, string? id, string? name, string? arguments)
    {
        if (!_calls.TryGetValue(index, out var call))
        {
            call = (null, null, new StringBuilder());
        }

        _calls[index] = (string.IsNullOrEmpty(id) ? call.Id : id, string.IsNullOrEmpty(name) ? call.Name : name, call.Arguments.Append(arguments));
    }

    private static string? String(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>One complete tool call of an answer: its id, the function's name and the arguments (JSON text).</summary>
public sealed record AnsweredToolCall(string Id, string Name, string Arguments);
