namespace InferenceMesh.Engine.Text;

/// <summary>
/// Finds stop strings in streamed text, also when one spans several tokens. Text that could still be
/// the start of a stop string is held back, so a client never sees any part of a stop string. Public for the gateway,
/// which matches a tool envelope's answer text itself (the engine then gets no stop strings). Not thread-safe.
/// </summary>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private readonly int _maxStopLength;
    private string _held = string.Empty;

    public StopStringMatcher(IReadOnlyList<string> stops)
    {
        _stops = stops.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        _maxStopLength = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length);
    }

    public bool Enabled => _stops.Length > 0;

    /// <summary>
    /// Adds newly generated text. Returns the text safe to emit now; <paramref name="stopped"/> is true
    /// when a stop string was found (the returned text then ends right before it).
    /// </summary>
    public string Push(string text, out bool stopped)
    {
        stopped = false;
        if (_stops.Length == 0)
        {
            return text;
        }

        var combined = _held + text;
        var first = -1;
        foreach (var stop in _stops)
        {
            var at = combined.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
            {
                first = at;
            }
        }

        if (first >= 0)
        {
            stopped = true;
            _held = string.Empty;
            return combined[..first];
        }

        var keep = LongestSuffixThatStartsAStop(combined);
        _held = combined[(combined.Length - keep)..];
        return combined[..(combined.Length - keep)];
    }

    /// <summary>Returns the held-back text at the end of generation (it did not become a stop string).</summary>
    public string Flush()
    {
        var rest = _held;
        _held = string.Empty;
        return rest;
    }

    private int LongestSuffixThatStartsAStop(string text)
    {
        for (var len = Math.Min(_maxStopLength - 1, text.Length); len > 0; len--)
        {
            var suffix = text.AsSpan(text.Length - len);
            foreach (var stop in _stops)
            {
                if (stop.Length > len && stop.AsSpan().StartsWith(suffix, StringComparison.Ordinal))
                {
                    return len;
                }
            }
        }

        return 0;
    }
}
