using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using InferenceMesh.Configuration;

namespace InferenceMesh.ModelCache.Gguf;

/// <summary>
/// A managed, bounds-checked GGUF v2/v3 parser. It reads the header, metadata and tensor infos and checks the tensor
/// data by offsets and sizes only, so a multi-gigabyte model costs a few reads. Every malformed input gives a
/// <see cref="GgufError"/> value; exceptions are thrown only for programming errors (null or unseekable stream).
/// Thread-safe (stateless).
/// </summary>
public static class GgufReader
{
    /// <summary>Minimum bytes of one key-value pair: key length, a 1-byte key, value type, a 1-byte value.</summary>
    internal const int MinKeyValueBytes = 8 + 1 + 4 + 1;

    /// <summary>Minimum bytes of one tensor info: name length, a 1-byte name, n_dims, one dimension, type, offset.</summary>
    internal const int MinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;

    /// <summary>
    /// Reads and validates the file at <paramref name="path"/>; I/O failures are returned as errors too, and a directory,
    /// FIFO, device or socket is an error without being opened (opening a FIFO waits for a writer).
    /// </summary>
    public static GgufReadResult Read(string path, GgufReaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (RegularFile.Problem(path) is { } problem)
        {
            return new GgufError(problem, 0);
        }

        try
        {
            using var stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read | FileShare.Delete,
                BufferSize = 0, // the parser buffers itself
            });
            return Read(stream, options);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new GgufError($"cannot read file: {e.Message}", 0);
        }
    }

    /// <summary>
    /// Reads and validates a GGUF file from a seekable stream, from offset 0 to its length. Only the header, metadata
    /// and tensor infos are read. Read errors of the stream itself (<see cref="IOException"/>) propagate.
    /// </summary>
    public static GgufReadResult Read(Stream stream, GgufReaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek || !stream.CanRead)
        {
            throw new ArgumentException("The stream must be readable and seekable.", nameof(stream));
        }

        return new Parser(stream, options ?? GgufReaderOptions.Default).Parse();
    }

    private sealed class Parser(Stream stream, GgufReaderOptions options)
    {
        private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

        private readonly long _length = stream.Length;
        private readonly byte[] _buffer = new byte[Math.Clamp(stream.Length, 64, 64 * 1024)];
        private long _bufferStart;
        private int _bufferCount;
        private long _position;
        private bool _hasNestedArrays;

        private long Remaining => _length - _position;

        public GgufReadResult Parse()
        {
            // Header
            if (_length == 0)
            {
                return new GgufError("empty file", 0);
            }

            if (!TryRead(4, out var magic))
            {
                return new GgufError($"file of {_length} bytes is too short for the GGUF magic", 0);
            }

            if (BinaryPrimitives.ReadUInt32LittleEndian(magic) != GgufFormat.Magic)
            {
                return new GgufError($"not a GGUF file: magic is {Convert.ToHexString(magic)}, expected 47475546 (\"GGUF\")", 0);
            }

            if (!TryU32(out var version))
            {
                return Truncated("header");
            }

            if ((version & 0xFFFF) == 0)
            {
                return new GgufError($"GGUF version 0x{version:X8} looks big-endian; only little-endian files are supported", 4);
            }

            if (version is not (2 or 3))
            {
                return new GgufError($"unsupported GGUF version {version} (2 and 3 are supported)", 4);
            }

            if (!TryU64(out var tensorCount) || !TryU64(out var kvCount))
            {
                return Truncated("header");
            }

            var afterHeader = (ulong)Remaining;
            if (tensorCount > afterHeader / MinTensorInfoBytes)
            {
                return new GgufError($"tensor_count {tensorCount} cannot fit in a {_length}-byte file", 8);
            }

            if (kvCount > afterHeader / MinKeyValueBytes)
            {
                return new GgufError($"kv_count {kvCount} cannot fit in a {_length}-byte file", 16);
            }

            if (tensorCount * MinTensorInfoBytes + kvCount * MinKeyValueBytes > afterHeader)
            {
                return new GgufError($"tensor_count {tensorCount} and kv_count {kvCount} cannot fit in a {_length}-byte file", 8);
            }

            // Metadata
            var metadata = new List<GgufMetadataEntry>((int)kvCount);
            var keys = new HashSet<string>(StringComparer.Ordinal);
            for (ulong i = 0; i < kvCount; i++)
            {
                var keyOffset = _position;
                if (ReadString($"key of metadata entry {i}", GgufFormat.MaxKeyBytes, out var key) is { } keyError)
                {
                    return keyError;
                }

                if (key.Length == 0)
                {
                    return new GgufError($"metadata entry {i} has an empty key", keyOffset);
                }

                if (!keys.Add(key))
                {
                    return new GgufError($"duplicate metadata key '{Printable(key)}'", keyOffset);
                }

                var typeOffset = _position;
                if (!TryU32(out var rawType))
                {
                    return Truncated($"value type of key '{Printable(key)}'");
                }

                var valueOffset = _position;
                if (ReadValue((GgufValueType)rawType, $"key '{Printable(key)}'", depth: 0, materialize: true, typeOffset, out var value) is { } valueError)
                {
                    return valueError;
                }

                metadata.Add(new GgufMetadataEntry(key, (GgufValueType)rawType, value!, valueOffset));
            }

            if (FindRepeatedToken(metadata) is { } tokenError)
            {
                return tokenError;
            }

            var alignment = GgufFormat.DefaultAlignment;
            if (metadata.Find(m => m.Key == GgufFormat.AlignmentKey) is { } alignmentEntry)
            {
                if (alignmentEntry.Value is not uint a)
                {
                    return new GgufError($"general.alignment has type {alignmentEntry.Type}, expected UInt32", alignmentEntry.Offset);
                }

                if (a == 0 || (a & (a - 1)) != 0)
                {
                    return new GgufError($"general.alignment {a} is not a power of two", alignmentEntry.Offset);
                }

                alignment = a;
            }

            // Tensor infos
            var tensors = new List<(string Name, long[] Dims, GgmlType Type, ulong Offset, long Elements, long Bytes, long InfoOffset)>((int)tensorCount);
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (ulong i = 0; i < tensorCount; i++)
            {
                var infoOffset = _position;
                if (ReadString($"name of tensor {i}", GgufFormat.MaxTensorNameBytes, out var name) is { } nameError)
                {
                    return nameError;
                }

                if (name.Length == 0)
                {
                    return new GgufError($"tensor {i} has an empty name", infoOffset);
                }

                var shown = Printable(name);
                if (!names.Add(name))
                {
                    return new GgufError($"duplicate tensor name '{shown}'", infoOffset);
                }

                var dimsOffset = _position;
                if (!TryU32(out var nDims))
                {
                    return Truncated($"tensor info '{shown}'");
                }

                if (nDims is < 1 or > GgufFormat.MaxDimensions)
                {
                    return new GgufError($"tensor '{shown}' has {nDims} dimensions; 1 to {GgufFormat.MaxDimensions} are allowed", dimsOffset);
                }

                var dims = new long[nDims];
                for (var d = 0; d < dims.Length; d++)
                {
                    if (!TryU64(out var dim))
                    {
                        return Truncated($"tensor info '{shown}'");
                    }

                    if (dim == 0 || dim > long.MaxValue)
                    {
                        return new GgufError($"tensor '{shown}' dimension {d} is {(long)dim}; dimensions must be positive", _position - 8);
                    }

                    dims[d] = (long)dim;
                }

                var typeOffset = _position;
                if (!TryU32(out var rawType))
                {
                    return Truncated($"tensor info '{shown}'");
                }

                var type = (GgmlType)rawType;
                if (!GgmlTypes.TryGetSize(type, out var typeSize))
                {
                    return new GgufError($"tensor '{shown}' has unknown ggml type {rawType}", typeOffset);
                }

                if (dims[0] % typeSize.BlockSize != 0)
                {
                    return new GgufError($"tensor '{shown}' first dimension {dims[0]} is not a multiple of the {type} block size {typeSize.BlockSize}", dimsOffset);
                }

                if (!GgmlTypes.TryGetByteCount(type, dims, out var elements, out var bytes))
                {
                    return new GgufError($"tensor '{shown}' shape [{string.Join(", ", dims)}] overflows 64 bits", dimsOffset);
                }

                if (!TryU64(out var offset))
                {
                    return Truncated($"tensor info '{shown}'");
                }

                tensors.Add((name, dims, type, offset, elements, bytes, infoOffset));
            }

            // Tensor data: checked by offsets and sizes only.
            var dataOffset = _position;
            if (tensorCount > 0)
            {
                dataOffset = GgufFormat.AlignUp(_position, alignment);
                if (dataOffset > _length)
                {
                    return new GgufError($"data section would start at {dataOffset}, beyond end of file {_length}", _position);
                }
            }

            var infos = new List<GgufTensorInfo>(tensors.Count);
            foreach (var t in tensors)
            {
                var shown = Printable(t.Name);
                if (t.Offset % alignment != 0)
                {
                    return new GgufError($"tensor '{shown}' offset {t.Offset} is not a multiple of the alignment {alignment}", t.InfoOffset);
                }

                var end = (UInt128)(ulong)dataOffset + t.Offset + (ulong)t.Bytes;
                if (end > (ulong)_length)
                {
                    return new GgufError($"tensor '{shown}' data ends at {end} beyond end of file {_length}", t.InfoOffset);
                }

                infos.Add(new GgufTensorInfo
                {
                    Name = t.Name,
                    Dimensions = t.Dims,
                    Type = t.Type,
                    Offset = (long)t.Offset,
                    ElementCount = t.Elements,
                    ByteCount = t.Bytes,
                    FileOffset = dataOffset + (long)t.Offset,
                });
            }

            if (FindOverlap(infos) is { } overlap)
            {
                return overlap;
            }

            // llama.cpp requires exactly the layout its writer produces: in order, each tensor padded to the alignment.
            long expected = 0;
            for (var i = 0; i < infos.Count; i++)
            {
                if (infos[i].Offset != expected)
                {
                    return new GgufError(
                        $"tensor '{Printable(infos[i].Name)}' has offset {infos[i].Offset}, expected {expected} (llama.cpp requires tensors stored in order, each padded to the alignment)",
                        tensors[i].InfoOffset);
                }

                expected = GgufFormat.AlignUp(expected + infos[i].ByteCount, alignment);
            }

            return new GgufFile(version, _length, alignment, dataOffset, metadata, infos, _hasNestedArrays);
        }

        /// <summary>
        /// llama.cpp aborts the whole process (a GGML_ASSERT in <c>llama_vocab::impl::load</c>) when two entries of the
        /// vocabulary are the same token to it: it keys each by its bytes up to the first NUL (a C string), an empty one
        /// as <c>[EMPTY_&lt;index&gt;]</c>. Only a vocabulary it loads is checked (a tokenizer model other than
        /// <c>no_vocab</c>/<c>none</c>); the strings are read again from the file, since a large one is not materialised
        /// and the decoded text would merge different invalid UTF-8.
        /// </summary>
        private GgufError? FindRepeatedToken(List<GgufMetadataEntry> metadata)
        {
            if (metadata.Find(m => m.Key == GgufFormat.TokenizerModelKey)?.Value is not string model || model is "no_vocab" or "none"
                || metadata.Find(m => m.Key == GgufFormat.TokenizerTokensKey)?.Value is not GgufArray { ElementType: GgufValueType.String } tokens)
            {
                return null;
            }

            var resume = _position;
            _position = tokens.Offset;
            var seen = new Dictionary<string, long>((int)Math.Min(tokens.Count, 1 << 20), StringComparer.Ordinal);
            for (long i = 0; i < tokens.Count; i++)
            {
                var entryOffset = _position;
                TryU64(out var length); // every length was checked by the first read
                string key;
                if (length <= (ulong)_buffer.Length && TryRead((int)length, out var bytes))
                {
                    key = TokenKey(bytes, i);
                }
                else
                {
                    var big = new byte[length];
                    stream.Position = _position;
                    stream.ReadExactly(big);
                    _position += (long)length;
                    key = TokenKey(big, i);
                }

                if (!seen.TryAdd(key, i))
                {
                    return new GgufError(
                        $"vocabulary entries {seen[key]} and {i} of {GgufFormat.TokenizerTokensKey} are the same token to llama.cpp (equal bytes up to the first NUL), which would stop the process",
                        entryOffset);
                }
            }

            _position = resume;
            return null;

            static string TokenKey(ReadOnlySpan<byte> bytes, long index)
            {
                var nul = bytes.IndexOf((byte)0);
                var text = nul < 0 ? bytes : bytes[..nul];
                return text.IsEmpty ? $"[EMPTY_{index}]" : Encoding.Latin1.GetString(text); // byte for byte: no two byte strings share a key
            }
        }

        private static GgufError? FindOverlap(List<GgufTensorInfo> infos)
        {
            var byOffset = infos.OrderBy(t => t.Offset).ToList();
            for (var i = 1; i < byOffset.Count; i++)
            {
                var previous = byOffset[i - 1];
                if (byOffset[i].Offset < previous.Offset + previous.ByteCount)
                {
                    return new GgufError(
                        $"tensor '{Printable(byOffset[i].Name)}' data at {byOffset[i].FileOffset} overlaps tensor '{Printable(previous.Name)}' ({previous.FileOffset}..{previous.FileOffset + previous.ByteCount})",
                        byOffset[i].FileOffset);
                }
            }

            return null;
        }

        private GgufError? ReadValue(GgufValueType type, string what, int depth, bool materialize, long typeOffset, out object? value)
        {
            value = null;
            var size = GgufFormat.ScalarSize(type);
            if (size > 0)
            {
                if (!TryRead(size, out var bytes))
                {
                    return Truncated($"value of {what}");
                }

                value = materialize ? DecodeScalar(type, bytes) : null;
                return null;
            }

            if (type == GgufValueType.String)
            {
                if (!materialize)
                {
                    return SkipString($"value of {what}", options.MaxStringLength);
                }

                var error = ReadString($"value of {what}", options.MaxStringLength, out var s);
                value = s;
                return error;
            }

            if (type != GgufValueType.Array)
            {
                return new GgufError($"{what} has unknown value type {(uint)type}", typeOffset);
            }

            if (depth >= GgufReaderDefaults.MaxArrayNesting)
            {
                return new GgufError($"{what} has arrays nested deeper than {GgufReaderDefaults.MaxArrayNesting} levels", typeOffset);
            }

            var elementTypeOffset = _position;
            if (!TryU32(out var rawElementType) || !TryU64(out var count))
            {
                return Truncated($"array header of {what}");
            }

            var elementType = (GgufValueType)rawElementType;
            var elementSize = GgufFormat.ScalarSize(elementType);
            var minElementSize = elementType switch
            {
                GgufValueType.String => 8,
                GgufValueType.Array => 12,
                _ => elementSize,
            };
            if (minElementSize == 0)
            {
                return new GgufError($"{what} is an array of unknown value type {rawElementType}", elementTypeOffset);
            }

            if (count > (ulong)options.MaxArrayElements)
            {
                return new GgufError($"{what} array length {count} exceeds the maximum {options.MaxArrayElements}", elementTypeOffset + 4);
            }

            if (count > (ulong)Remaining / (ulong)minElementSize)
            {
                return new GgufError($"{what} array of {count} {elementType} cannot fit in the {Remaining} bytes left in the file", elementTypeOffset + 4);
            }

            if (elementType == GgufValueType.Array)
            {
                _hasNestedArrays = true;
            }

            var n = (long)count;
            var start = _position;
            var keep = materialize && n <= options.MaxMaterializedArrayElements;
            Array? values = null;
            if (elementSize > 0)
            {
                if (keep)
                {
                    // n <= MaxMaterializedArrayElements and n * size <= remaining, but the buffer may be smaller.
                    var byteLength = (int)(n * elementSize);
                    if (byteLength <= _buffer.Length)
                    {
                        if (!TryRead(byteLength, out var bytes))
                        {
                            return Truncated($"value of {what}");
                        }

                        values = DecodeArray(elementType, bytes);
                    }
                    else
                    {
                        var big = new byte[byteLength];
                        stream.Position = _position;
                        stream.ReadExactly(big);
                        _position += byteLength;
                        values = DecodeArray(elementType, big);
                    }
                }
                else
                {
                    // Bounds were checked above: count * size <= remaining.
                    _position += n * elementSize;
                }
            }
            else
            {
                values = keep ? (elementType == GgufValueType.String ? new string[n] : new GgufArray[n]) : null;
                for (long i = 0; i < n; i++)
                {
                    if (elementType == GgufValueType.Array)
                    {
                        if (ReadValue(GgufValueType.Array, $"element {i} of {what}", depth + 1, keep, elementTypeOffset, out var nested) is { } nestedError)
                        {
                            return nestedError;
                        }

                        values?.SetValue(nested, i);
                    }
                    else if (keep)
                    {
                        if (ReadString(what, options.MaxStringLength, out var s, element: i) is { } stringError)
                        {
                            return stringError;
                        }

                        values!.SetValue(s, i);
                    }
                    else if (SkipString(what, options.MaxStringLength, element: i) is { } skipError)
                    {
                        return skipError;
                    }
                }
            }

            value = new GgufArray(elementType, n, start, _position - start, values);
            return null;
        }

        private static Array DecodeArray(GgufValueType type, ReadOnlySpan<byte> bytes) => type switch
        {
            GgufValueType.UInt8 => bytes.ToArray(),
            GgufValueType.Int8 => MemoryMarshal.Cast<byte, sbyte>(bytes).ToArray(),
            GgufValueType.Bool => Decode(bytes, 1, b => b[0] != 0),
            GgufValueType.UInt16 => Decode(bytes, 2, BinaryPrimitives.ReadUInt16LittleEndian),
            GgufValueType.Int16 => Decode(bytes, 2, BinaryPrimitives.ReadInt16LittleEndian),
            GgufValueType.UInt32 => Decode(bytes, 4, BinaryPrimitives.ReadUInt32LittleEndian),
            GgufValueType.Int32 => Decode(bytes, 4, BinaryPrimitives.ReadInt32LittleEndian),
            GgufValueType.Float32 => Decode(bytes, 4, BinaryPrimitives.ReadSingleLittleEndian),
            GgufValueType.UInt64 => Decode(bytes, 8, BinaryPrimitives.ReadUInt64LittleEndian),
            GgufValueType.Int64 => Decode(bytes, 8, BinaryPrimitives.ReadInt64LittleEndian),
            GgufValueType.Float64 => Decode(bytes, 8, BinaryPrimitives.ReadDoubleLittleEndian),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };

        private static T[] Decode<T>(ReadOnlySpan<byte> bytes, int size, SpanDecoder<T> decode)
        {
            var values = new T[bytes.Length / size];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = decode(bytes.Slice(i * size, size));
            }

            return values;
        }

        private delegate T SpanDecoder<out T>(ReadOnlySpan<byte> bytes);

        private static object DecodeScalar(GgufValueType type, ReadOnlySpan<byte> b) => type switch
        {
            GgufValueType.UInt8 => b[0],
            GgufValueType.Int8 => (sbyte)b[0],
            GgufValueType.Bool => b[0] != 0,
            GgufValueType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(b),
            GgufValueType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(b),
            GgufValueType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(b),
            GgufValueType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(b),
            GgufValueType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(b),
            GgufValueType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(b),
            GgufValueType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(b),
            GgufValueType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(b),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };

        private GgufError? ReadString(string what, long maxLength, out string value, long element = -1)
        {
            value = string.Empty;
            if (CheckStringLength(what, maxLength, element, out var length) is { } error)
            {
                return error;
            }

            if (length <= Math.Min(_buffer.Length, Remaining))
            {
                if (!TryRead((int)length, out var bytes))
                {
                    return Truncated($"string ({Describe(what, element)})");
                }

                value = Utf8.GetString(bytes);
                return null;
            }

            // Longer than the buffer (a huge chat template): read straight from the stream.
            var big = new byte[length];
            stream.Position = _position;
            stream.ReadExactly(big);
            _position += length;
            value = Utf8.GetString(big);
            return null;
        }

        private GgufError? SkipString(string what, long maxLength, long element = -1)
        {
            if (CheckStringLength(what, maxLength, element, out var length) is { } error)
            {
                return error;
            }

            _position += length;
            return null;
        }

        /// <summary>Error context is formatted only on failure: a vocabulary has 100k+ strings.</summary>
        private static string Describe(string what, long element) => element < 0 ? what : $"element {element} of {what}";

        private GgufError? CheckStringLength(string what, long maxLength, long element, out long length)
        {
            length = 0;
            var offset = _position;
            if (!TryU64(out var raw))
            {
                return Truncated($"string length ({Describe(what, element)})");
            }

            if (raw > (ulong)maxLength)
            {
                return new GgufError($"string length {raw} ({Describe(what, element)}) exceeds the maximum {maxLength}", offset);
            }

            if (raw > (ulong)Remaining)
            {
                return new GgufError($"truncated in string ({Describe(what, element)}) at offset {_position}: length {raw} but only {Remaining} bytes left", offset);
            }

            length = (long)raw;
            return null;
        }

        private GgufError Truncated(string what) => new($"truncated in {what} at offset {_position} (file is {_length} bytes)", _position);

        private bool TryU32(out uint value)
        {
            value = 0;
            if (!TryRead(4, out var b))
            {
                return false;
            }

            value = BinaryPrimitives.ReadUInt32LittleEndian(b);
            return true;
        }

        private bool TryU64(out ulong value)
        {
            value = 0;
            if (!TryRead(8, out var b))
            {
                return false;
            }

            value = BinaryPrimitives.ReadUInt64LittleEndian(b);
            return true;
        }

        /// <summary>Reads <paramref name="count"/> (at most the buffer size) bytes at the current position.</summary>
        private bool TryRead(int count, out ReadOnlySpan<byte> bytes)
        {
            bytes = default;
            if (count > Remaining)
            {
                return false;
            }

            if (_position < _bufferStart || _position + count > _bufferStart + _bufferCount)
            {
                stream.Position = _position;
                _bufferStart = _position;
                _bufferCount = 0;
                var want = (int)Math.Min(_buffer.Length, Remaining);
                while (_bufferCount < want)
                {
                    var read = stream.Read(_buffer, _bufferCount, want - _bufferCount);
                    if (read == 0)
                    {
                        break; // the file shrank while being read
                    }

                    _bufferCount += read;
                }

                if (_bufferCount < count)
                {
                    return false;
                }
            }

            bytes = _buffer.AsSpan((int)(_position - _bufferStart), count);
            _position += count;
            return true;
        }

        /// <summary>Names from the file, made safe to show in logs: control and format characters escaped.</summary>
        private static string Printable(string s) => GgufText.Printable(s);
    }
}

internal static class GgufText
{
    /// <summary>Escapes control and format characters (newlines, bidi overrides) and shortens very long text.</summary>
    public static string Printable(string s, int maxLength = 200)
    {
        var needsWork = s.Length > maxLength;
        foreach (var c in s)
        {
            if (char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format)
            {
                needsWork = true;
                break;
            }
        }

        if (!needsWork)
        {
            return s;
        }

        var sb = new StringBuilder();
        foreach (var c in s.Length > maxLength ? s[..maxLength] : s)
        {
            if (char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format)
            {
                sb.Append($"\\u{(int)c:X4}");
            }
            else
            {
                sb.Append(c);
            }
        }

        if (s.Length > maxLength)
        {
            sb.Append("...");
        }

        return sb.ToString();
    }
}
