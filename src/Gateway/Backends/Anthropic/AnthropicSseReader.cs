using System.Text;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// Reads server-sent events incrementally from a response body: <c>event:</c> and <c>data:</c> lines up to a
/// blank line make one event; comments (<c>:</c>) and other fields are skipped. Lines end with LF, CRLF or CR. No line
/// and no event grows past the limit: an upstream that sends one endless line fails once it passes the limit instead of
/// being buffered whole. An unterminated event at the end of the body is dropped, as the SSE spec says.
/// </summary>
internal sealed class AnthropicSseReader(Stream body, int maxEventChars) : IDisposable
{
    private readonly StreamReader _reader = new(body, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, bufferSize: 4096);
    private readonly StringBuilder _data = new();
    private readonly StringBuilder _line = new();
    private readonly char[] _buffer = new char[4096];
    private int _start;
    private int _end;
    private bool _endOfBody;
    private bool _skipLineFeed;

    /// <summary>The next event's data (several data lines joined with \n), or null at the end of the body.</summary>
    /// <exception cref="InvalidDataException">A line or an event is larger than the limit.</exception>
    public async ValueTask<SseEvent?> ReadAsync(CancellationToken cancellationToken)
    {
        _data.Clear();
        string? name = null;
        var hasData = false;
        while (await ReadLineAsync(cancellationToken) is { } line)
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

    /// <summary>The next line without its end, the last unterminated one at the end of the body, then null.</summary>
    private async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        _line.Clear();
        while (true)
        {
            if (_start == _end)
            {
                if (_endOfBody)
                {
                    return _line.Length > 0 ? _line.ToString() : null;
                }

                _start = 0;
                _end = await _reader.ReadAsync(_buffer, cancellationToken);
                _endOfBody = _end == 0;
                continue;
            }

            if (_skipLineFeed)
            {
                _skipLineFeed = false; // the LF of a CRLF whose CR ended the last line
                if (_buffer[_start] == '\n')
                {
                    _start++;
                    continue;
                }
            }

            var available = _buffer.AsSpan(_start, _end - _start);
            var end = available.IndexOfAny('\r', '\n');
            _line.Append(end < 0 ? available : available[..end]);
            if (_line.Length > maxEventChars)
            {
                throw new InvalidDataException("An upstream line is larger than the limit.");
            }

            if (end < 0)
            {
                _start = _end;
                continue;
            }

            _skipLineFeed = available[end] == '\r';
            _start += end + 1;
            return _line.ToString();
        }
    }

    public void Dispose() => _reader.Dispose();
}

internal readonly record struct SseEvent(string? Name, string Data);
