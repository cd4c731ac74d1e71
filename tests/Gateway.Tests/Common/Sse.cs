using System.Text.Json;

namespace InferenceMesh.Gateway.Tests.Common;

/// <summary>A strict reader of an OpenAI event stream: every event is exactly <c>data: &lt;json&gt;\n\n</c>, and the last is <c>data: [DONE]\n\n</c>.</summary>
internal static class Sse
{
    public static IReadOnlyList<JsonElement> ParseStrict(string body)
    {
        var events = new List<JsonElement>();
        var position = 0;
        var done = false;
        while (position < body.Length)
        {
            Assert.False(done, "An event follows data: [DONE].");
            Assert.True(body.AsSpan(position).StartsWith("data: "), $"Event at {position} does not start with 'data: '.");
            var end = body.IndexOf("\n\n", position, StringComparison.Ordinal);
            Assert.True(end >= 0, $"Event at {position} is not terminated by a blank line.");
            var payload = body[(position + 6)..end];
            Assert.DoesNotContain('\n', payload);
            Assert.DoesNotContain('\r', payload);
            if (payload == "[DONE]")
            {
                done = true;
            }
            else
            {
                using var document = JsonDocument.Parse(payload);
                events.Add(document.RootElement.Clone());
            }

            position = end + 2;
        }

        Assert.True(done, "The stream did not end with data: [DONE].");
        return events;
    }

    /// <summary>Concatenates choices[0].delta.content (chat) or choices[0].text (completions).</summary>
    public static string Text(IEnumerable<JsonElement> events) => string.Concat(events
        .Where(e => e.TryGetProperty("choices", out var c) && c.GetArrayLength() > 0)
        .Select(e => e.GetProperty("choices")[0])
        .Select(c => c.TryGetProperty("delta", out var d)
            ? d.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String ? content.GetString() : null
            : c.GetProperty("text").GetString()));

    public static string? FinishReason(IEnumerable<JsonElement> events) => events
        .Where(e => e.TryGetProperty("choices", out var c) && c.GetArrayLength() > 0)
        .Select(e => e.GetProperty("choices")[0].GetProperty("finish_reason"))
        .LastOrDefault(f => f.ValueKind == JsonValueKind.String) is { ValueKind: JsonValueKind.String } last ? last.GetString() : null;

    /// <summary>A strict reader of a Responses stream: every event is <c>event: type\ndata: json\n\n</c> with the data's type equal to the event's name.</summary>
    public static List<JsonElement> ParseNamed(string body)
    {
        var events = new List<JsonElement>();
        var position = 0;
        while (position < body.Length)
        {
            var end = body.IndexOf("\n\n", position, StringComparison.Ordinal);
            Assert.True(end >= 0, $"Event at {position} is not terminated by a blank line.");
            var lines = body[position..end].Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("event: ", lines[0]);
            Assert.StartsWith("data: ", lines[1]);
            using var document = JsonDocument.Parse(lines[1][6..]);
            Assert.Equal(lines[0][7..], document.RootElement.GetProperty("type").GetString());
            events.Add(document.RootElement.Clone());
            position = end + 2;
        }

        return events; // a data: [DONE] frame is not JSON: it fails above
    }
}
