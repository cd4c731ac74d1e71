using System.Text;

namespace InferenceMesh.Engine.Text;

/// <summary>
/// Turns the byte pieces of successive tokens into text without ever emitting a broken character:
/// a token that ends in the middle of a UTF-8 sequence is held back until the next token completes it.
/// Invalid sequences (which a model can produce with byte-fallback tokens) become U+FFFD once they are
/// known to be invalid, never silently dropped.
/// </summary>
internal sealed class Utf8TokenAssembler
{
    private readonly byte[] _pending = new byte[4];
    private int _pendingCount;
    private readonly StringBuilder _text = new();

    /// <summary>Whether bytes of an incomplete character are held back.</summary>
    public bool HasPending => _pendingCount > 0;

    /// <summary>Appends a token's bytes and returns the text that is now complete (possibly empty).</summary>
    public string Append(ReadOnlySpan<byte> piece)
    {
        _text.Clear();
        foreach (var b in piece)
        {
            AppendByte(b);
        }

        return _text.ToString();
    }

    /// <summary>Returns whatever is still held back (an incomplete sequence at the end becomes U+FFFD).</summary>
    public string Flush()
    {
        if (_pendingCount == 0)
        {
            return string.Empty;
        }

        _pendingCount = 0;
        return "\uFFFD";
    }

    private void AppendByte(byte b)
    {
        if (_pendingCount == 0)
        {
            if (b < 0x80)
            {
                _text.Append((char)b);
                return;
            }

            if (ExpectedLength(b) == 0)
            {
                _text.Append('\uFFFD');
                return;
            }

            _pending[_pendingCount++] = b;
            return;
        }

        if ((b & 0xC0) != 0x80)
        {
            // The held sequence was cut short: it is invalid; the new byte starts afresh.
            _pendingCount = 0;
            _text.Append('\uFFFD');
            AppendByte(b);
            return;
        }

        _pending[_pendingCount++] = b;
        if (_pendingCount == ExpectedLength(_pending[0]))
        {
            Span<char> chars = stackalloc char[4];
            System.Text.Unicode.Utf8.ToUtf16(_pending.AsSpan(0, _pendingCount), chars, out _, out var written, replaceInvalidSequences: true);
            _text.Append(chars[..written]);
            _pendingCount = 0;
        }
    }

    private static int ExpectedLength(byte lead) => lead switch
    {
        >= 0xC2 and <= 0xDF => 2,
        >= 0xE0 and <= 0xEF => 3,
        >= 0xF0 and <= 0xF4 => 4,
        _ => 0,
    };
}
