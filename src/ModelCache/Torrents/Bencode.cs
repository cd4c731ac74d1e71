using System.Text;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>A bencoded value (BEP 3): an integer, a byte string, a list or a dictionary with byte-string keys.</summary>
public abstract record BValue;

public sealed record BInteger(long Value) : BValue;

public sealed record BString(byte[] Bytes) : BValue
{
    public BString(string text)
        : this(Encoding.UTF8.GetBytes(text))
    {
    }

    /// <summary>The bytes as UTF-8, or null when they are not valid UTF-8.</summary>
    public string? Utf8 => Bencode.StrictUtf8(Bytes);
}

public sealed record BList(IReadOnlyList<BValue> Items) : BValue;

/// <summary>A dictionary; keys are written in raw byte order, as BEP 3 requires.</summary>
public sealed record BDictionary(IReadOnlyDictionary<string, BValue> Entries) : BValue
{
    public BValue? this[string key] => Entries.GetValueOrDefault(key);

    /// <summary>The value under a raw byte key (a BEP 52 <c>piece layers</c> key is a 32-byte hash, rarely UTF-8).</summary>
    public BValue? this[byte[] key] => Entries.GetValueOrDefault(Bencode.KeyOf(key));
}

/// <summary>
/// A small, bounded bencode reader and writer for .torrent files (the file format only; the wire protocol is the
/// engine's). The reader refuses anything not canonical enough to hash reliably: leading zeros, "-0", unsorted or
/// duplicate keys, non-UTF-8 keys, nesting deeper than <see cref="MaxDepth"/>, trailing bytes.
/// </summary>
public static class Bencode
{
    /// <summary>Deepest nesting accepted (a torrent needs 4).</summary>
    public const int MaxDepth = 32;

    private static readonly UTF8Encoding Utf8Strict = new(false, throwOnInvalidBytes: true);

    internal static string? StrictUtf8(byte[] bytes)
    {
        try
        {
            return Utf8Strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>
    /// The dictionary key for raw key bytes: the text when they are UTF-8, else U+FFFF and the bytes in lowercase hex
    /// (U+FFFF is a noncharacter no torrent key starts with; a UTF-8 key that does is also kept as hex, so keys
    /// round-trip exactly).
    /// </summary>
    public static string KeyOf(byte[] key) =>
        StrictUtf8(key) is { } text && !text.StartsWith(BinaryKeyMark) ? text : BinaryKeyMark + Convert.ToHexStringLower(key);

    private const char BinaryKeyMark = '\uFFFF';

    private static byte[] KeyBytes(string key) =>
        key.StartsWith(BinaryKeyMark) ? Convert.FromHexString(key.AsSpan(1)) : Encoding.UTF8.GetBytes(key);

    /// <summary>Encodes a value.</summary>
    public static byte[] Encode(BValue value)
    {
        using var stream = new MemoryStream();
        Write(stream, value);
        return stream.ToArray();
    }

    private static void Write(MemoryStream stream, BValue value)
    {
        switch (value)
        {
            case BInteger i:
                WriteAscii(stream, $"i{i.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}e");
                break;
            case BString s:
                WriteBytes(stream, s.Bytes);
                break;
            case BList l:
                stream.WriteByte((byte)'l');
                foreach (var item in l.Items)
                {
                    Write(stream, item);
                }

                stream.WriteByte((byte)'e');
                break;
            case BDictionary d:
                stream.WriteByte((byte)'d');
                foreach (var (key, item) in d.Entries.Select(e => (Key: KeyBytes(e.Key), e.Value)).OrderBy(e => e.Key, ByteOrder.Instance))
                {
                    WriteBytes(stream, key);
                    Write(stream, item);
                }

                stream.WriteByte((byte)'e');
                break;
            default:
                throw new ArgumentException("Unknown bencode value.", nameof(value));
        }
    }

    private static void WriteBytes(MemoryStream stream, byte[] bytes)
    {
        WriteAscii(stream, bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":");
        stream.Write(bytes);
    }

    private static void WriteAscii(MemoryStream stream, string text) => stream.Write(Encoding.ASCII.GetBytes(text));

    /// <summary>
    /// Decodes exactly one value filling <paramref name="data"/>. When the top level is a dictionary with an "info"
    /// key, <paramref name="infoSpan"/> is that value's byte range (what the infohash is computed over).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out BValue? value, out Range infoSpan, out string? error)
    {
        var reader = new Reader(data);
        value = null;
        infoSpan = default;
        try
        {
            value = reader.ReadValue(0, topLevel: true);
            if (reader.Position != data.Length)
            {
                throw new FormatException($"trailing bytes after the value at offset {reader.Position}");
            }

            infoSpan = reader.InfoSpan;
            error = null;
            return true;
        }
        catch (FormatException e)
        {
            value = null;
            error = e.Message;
            return false;
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; private set; }

        public Range InfoSpan { get; private set; }

        public BValue ReadValue(int depth, bool topLevel = false)
        {
            if (depth > MaxDepth)
            {
                throw new FormatException("nested too deeply");
            }

            var c = Peek();
            switch (c)
            {
                case (byte)'i':
                    Position++;
                    var value = ReadInteger((byte)'e');
                    return new BInteger(value);
                case (byte)'l':
                    Position++;
                    var items = new List<BValue>();
                    while (Peek() != (byte)'e')
                    {
                        items.Add(ReadValue(depth + 1));
                    }

                    Position++;
                    return new BList(items);
                case (byte)'d':
                    Position++;
                    var entries = new Dictionary<string, BValue>(StringComparer.Ordinal);
                    byte[]? previous = null;
                    while (Peek() != (byte)'e')
                    {
                        var key = ReadString();
                        if (previous is not null && ByteOrder.Instance.Compare(previous, key) >= 0)
                        {
                            throw new FormatException($"dictionary keys unsorted or duplicated at offset {Position}");
                        }

                        previous = key;
                        var name = KeyOf(key);
                        var start = Position;
                        entries[name] = ReadValue(depth + 1);
                        if (topLevel && name == "info")
                        {
                            InfoSpan = start..Position;
                        }
                    }

                    Position++;
                    return new BDictionary(entries);
                case >= (byte)'0' and <= (byte)'9':
                    return new BString(ReadString());
                default:
                    throw new FormatException($"unexpected byte 0x{c:x2} at offset {Position}");
            }
        }

        private byte Peek() =>
            Position < _data.Length ? _data[Position] : throw new FormatException("unexpected end of data");

        private byte[] ReadString()
        {
            var length = ReadInteger((byte)':');
            if (length < 0 || length > _data.Length - Position)
            {
                throw new FormatException($"string length {length} runs past the end at offset {Position}");
            }

            var bytes = _data.Slice(Position, (int)length).ToArray();
            Position += (int)length;
            return bytes;
        }

        private long ReadInteger(byte terminator)
        {
            var start = Position;
            var negative = false;
            if (Peek() == (byte)'-' && terminator == (byte)'e')
            {
                negative = true;
                Position++;
            }

            var digits = 0;
            long value = 0;
            while (Peek() != terminator)
            {
                var c = _data[Position];
                if (c is < (byte)'0' or > (byte)'9' || digits == 18)
                {
                    throw new FormatException($"bad integer at offset {start}");
                }

                value = (value * 10) + (c - '0');
                digits++;
                Position++;
            }

            if (digits == 0 || (digits > 1 && _data[negative ? start + 1 : start] == (byte)'0') || (negative && value == 0))
            {
                throw new FormatException($"bad integer at offset {start}");
            }

            Position++;
            return negative ? -value : value;
        }
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
