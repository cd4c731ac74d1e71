using InferenceMesh.Engine;

namespace InferenceMesh.Gateway.Responses;

/// <summary>
/// <c>truncation: "auto"</c> of the Responses API: when the conversation does not fit the model's context, the oldest input
/// items are dropped until it does. What is dropped goes in whole units, oldest first: a message, or an assistant message
/// with its function calls together with the tool outputs that answer them (a call is never kept without its output, nor an
/// output without its call). System messages (the <c>instructions</c>, system and developer items) are never dropped, nor
/// the newest unit (the turn being answered): when even that does not fit, the model's own context error stands.
/// </summary>
internal static class InputTruncation
{
    /// <summary>
    /// The fewest oldest units dropped such that <paramref name="fits"/> holds (found by bisection: a shorter conversation
    /// never needs more room), or <paramref name="messages"/> as they are when they fit or when nothing may be dropped. When
    /// even dropping every droppable unit does not fit, the result is that shortest conversation (the caller's check then
    /// fails on it with the limit named).
    /// </summary>
    public static IReadOnlyList<ChatMessage> Fit(IReadOnlyList<ChatMessage> messages, Func<IReadOnlyList<ChatMessage>, bool> fits)
    {
        var units = DroppableUnits(messages);
        if (units.Count == 0 || fits(messages))
        {
            return messages;
        }

        int low = 1, high = units.Count; // dropping `high` units is the shortest conversation allowed
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (fits(Without(messages, units, middle)))
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }

        return Without(messages, units, low);
    }

    /// <summary>
    /// The units that may be dropped, oldest first, as [start, end) ranges: every unit but system messages and the last
    /// one. A unit is one message, or an assistant message followed by the tool messages that answer its calls.
    /// </summary>
    private static List<(int Start, int End)> DroppableUnits(IReadOnlyList<ChatMessage> messages)
    {
        var units = new List<(int Start, int End)>();
        for (var i = 0; i < messages.Count;)
        {
            var end = i + 1;
            if (messages[i].Role == "assistant" || messages[i].Role == "tool")
            {
                // A lone tool message (its call was dropped by an earlier turn's store) goes with what surrounds it.
                while (end < messages.Count && messages[end].Role == "tool")
                {
                    end++;
                }
            }

            if (messages[i].Role != "system")
            {
                units.Add((i, end));
            }

            i = end;
        }

        if (units.Count > 0)
        {
            units.RemoveAt(units.Count - 1); // the turn being answered stays
        }

        return units;
    }

    private static List<ChatMessage> Without(IReadOnlyList<ChatMessage> messages, List<(int Start, int End)> units, int count)
    {
        var dropped = new bool[messages.Count];
        foreach (var (start, end) in units.Take(count))
        {
            Array.Fill(dropped, true, start, end - start);
        }

        return [.. messages.Where((_, i) => !dropped[i])];
    }
}
