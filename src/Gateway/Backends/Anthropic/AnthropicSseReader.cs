using System.Text;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// Reads server-sent events incrementally from a response body: <c>event:</c> and <c>data:</c> lines up to a
/// blank line make one event; comments (<c>:</c>) and other fields are skipped. Never reads ahead more than
/// the stream reader's buffer. An unterminated event at the end of the body is dropped, as the SSE spec says.
/// </summary>
internal sealed class AnthropicSseReader(Stream body, int maxEventChars) : IDisposable
{
    private readonly StreamReader _reader = new(body, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, bufferSize: 4096);
    private readonly StringBuilder _data = new();

    /// <summary>The next event's data (several data lines joined with \n), or null at the end of the body.</summary>
    /// <exception cref="InvalidDataException">An event is larger than the limit.</exception>
    public async ValueTask<SseEvent?> ReadAsync(CancellationToken cancellationToken)
    {
        _data.Clear();
        string? name = null;
        var hasData = false;
        while (await _reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (hasData)
                {
                    return new SseEvent(name, _data.ToString());
                }

                name = null;
                continue;
            }

            if (line[0] == ':')
            {
                continue;
            }

            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? string.Empty : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            if (field == "data")
            {
                if (hasData)
                {
                    _data.Append('\n');
                }

                _data.Append(value);
                hasData = true;
                if (_data.Length > maxEventChars)
                {
                    throw new InvalidDataException("An upstream event is larger than the limit.");
                }
            }
            else if (field == "event")
            {
                name = value;
            }
        }

        return null;
    }

    public void Dispose() => _reader.Dispose();
}

internal readonly record struct SseEvent(string? Name, string Data);
