using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace InferenceMesh.ModelCache.Gguf;

/// <summary>
/// Writes a GGUF file (version 3, little-endian): header, metadata, tensor infos, padding, tensor data.
/// Tensor data is either held in memory or produced by a callback at write time, so a model of any size can be
/// written without holding it twice. The layout is the one llama.cpp's gguf writer produces and its reader
/// requires: tensors stored in the order added, each starting at a multiple of the alignment.
/// Not thread-safe. Misuse (duplicate names, bad shapes, wrong data length) throws: these are bugs in the caller.
/// </summary>
public sealed class GgufWriter
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly List<(string Key, GgufValueType Type, Action<GgufBinaryOutput> WriteValue)> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);
    private uint _alignment = GgufFormat.DefaultAlignment;

    /// <summary>The version written in the header. The default value is 3; 2 has the same little-endian layout.</summary>
    public uint Version { get; init; } = GgufFormat.CurrentVersion;

    /// <summary>The tensor data alignment: 32 unless general.alignment was added.</summary>
    public uint Alignment => _alignment;

    public int TensorCount => _tensors.Count;

    public int MetadataCount => _metadata.Count;

    public GgufWriter AddUInt8(string key, byte value) => Add(key, GgufValueType.UInt8, o => o.U8(value));

    public GgufWriter AddInt8(string key, sbyte value) => Add(key, GgufValueType.Int8, o => o.U8((byte)value));

    public GgufWriter AddUInt16(string key, ushort value) => Add(key, GgufValueType.UInt16, o => o.U16(value));

    public GgufWriter AddInt16(string key, short value) => Add(key, GgufValueType.Int16, o => o.U16((ushort)value));

    /// <summary>Adds a uint32; adding general.alignment sets <see cref="Alignment"/> (it must be a power of two).</summary>
    public GgufWriter AddUInt32(string key, uint value)
    {
        if (key == GgufFormat.AlignmentKey)
        {
            if (value == 0 || (value & (value - 1)) != 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "general.alignment must be a power of two.");
            }

            if (_tensors.Count > 0)
            {
                throw new InvalidOperationException("Set general.alignment before adding tensors.");
            }
        }

        Add(key, GgufValueType.UInt32, o => o.U32(value));
        if (key == GgufFormat.AlignmentKey)
        {
            _alignment = value;
        }

        return this;
    }

    public GgufWriter AddInt32(string key, int value) => Add(key, GgufValueType.Int32, o => o.U32((uint)value));

    public GgufWriter AddUInt64(string key, ulong value) => Add(key, GgufValueType.UInt64, o => o.U64(value));

    public GgufWriter AddInt64(string key, long value) => Add(key, GgufValueType.Int64, o => o.U64((ulong)value));

    public GgufWriter AddFloat32(string key, float value) =>
        Add(key, GgufValueType.Float32, o => o.U32(BitConverter.SingleToUInt32Bits(value)));

    public GgufWriter AddFloat64(string key, double value) =>
        Add(key, GgufValueType.Float64, o => o.U64(BitConverter.DoubleToUInt64Bits(value)));

    public GgufWriter AddBool(string key, bool value) => Add(key, GgufValueType.Bool, o => o.U8(value ? (byte)1 : (byte)0));

    public GgufWriter AddString(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var bytes = Utf8.GetBytes(value);
        return Add(key, GgufValueType.String, o => o.String(bytes));
    }

    /// <summary>
    /// Adds an array of a scalar type: byte, sbyte, ushort, short, uint, int, ulong, long, float, double or bool.
    /// The values are copied.
    /// </summary>
    public GgufWriter AddArray<T>(string key, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        var elementType = ScalarTypeOf<T>();
        var copy = values.ToArray();
        return Add(key, GgufValueType.Array, o =>
        {
            o.U32((uint)elementType);
            o.U64((ulong)copy.Length);
            if (typeof(T) == typeof(bool))
            {
                foreach (var b in MemoryMarshal.Cast<T, bool>(copy))
                {
                    o.U8(b ? (byte)1 : (byte)0);
                }
            }
            else if (BitConverter.IsLittleEndian)
            {
                o.Bytes(MemoryMarshal.AsBytes(copy.AsSpan()));
            }
            else
            {
                throw new PlatformNotSupportedException("GgufWriter writes little-endian files on little-endian hosts only.");
            }
        });
    }

    /// <inheritdoc cref="AddArray{T}(string, ReadOnlySpan{T})"/>
    public GgufWriter AddArray<T>(string key, T[] values)
        where T : unmanaged => AddArray(key, (ReadOnlySpan<T>)values);

    public GgufWriter AddStringArray(string key, IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var encoded = new byte[values.Count][];
        for (var i = 0; i < encoded.Length; i++)
        {
            encoded[i] = Utf8.GetBytes(values[i] ?? throw new ArgumentException($"Element {i} is null.", nameof(values)));
        }

        return Add(key, GgufValueType.Array, o =>
        {
            o.U32((uint)GgufValueType.String);
            o.U64((ulong)encoded.Length);
            foreach (var s in encoded)
            {
                o.String(s);
            }
        });
    }

    /// <summary>Adds a tensor whose bytes are in memory (ggml's layout for <paramref name="type"/>; the memory is not copied).</summary>
    public GgufWriter AddTensor(string name, GgmlType type, ReadOnlySpan<long> dims, ReadOnlyMemory<byte> data)
    {
        var byteCount = CheckTensor(name, type, dims);
        if (data.Length != byteCount)
        {
            throw new ArgumentException($"Tensor '{name}' needs {byteCount} bytes of {type} data, got {data.Length}.", nameof(data));
        }

        _tensors.Add(new PendingTensor(name, type, dims.ToArray(), byteCount, s => s.Write(data.Span)));
        return this;
    }

    /// <summary>Adds an F32 tensor from floats (not copied).</summary>
    public GgufWriter AddTensor(string name, ReadOnlySpan<long> dims, ReadOnlyMemory<float> data)
    {
        var byteCount = CheckTensor(name, GgmlType.F32, dims);
        if ((long)data.Length * sizeof(float) != byteCount)
        {
            throw new ArgumentException($"Tensor '{name}' needs {byteCount / sizeof(float)} floats, got {data.Length}.", nameof(data));
        }

        _tensors.Add(new PendingTensor(name, GgmlType.F32, dims.ToArray(), byteCount, s => s.Write(MemoryMarshal.AsBytes(data.Span))));
        return this;
    }

    /// <summary>
    /// Adds a tensor whose bytes are produced at write time by <paramref name="writeData"/>, which must write exactly
    /// the tensor's byte count (<see cref="GgmlTypes.TryGetByteCount"/>) to the stream it is given. Use this for large
    /// tensors: nothing is buffered.
    /// </summary>
    public GgufWriter AddTensor(string name, GgmlType type, ReadOnlySpan<long> dims, Action<Stream> writeData)
    {
        ArgumentNullException.ThrowIfNull(writeData);
        var byteCount = CheckTensor(name, type, dims);
        _tensors.Add(new PendingTensor(name, type, dims.ToArray(), byteCount, writeData));
        return this;
    }

    /// <summary>The length in bytes of the file <see cref="WriteTo"/> will write.</summary>
    public long ComputeLength()
    {
        var counter = new GgufBinaryOutput(Stream.Null);
        WriteHeaderAndInfos(counter);
        var length = counter.Position;
        foreach (var t in _tensors)
        {
            length = GgufFormat.AlignUp(length, _alignment) + t.ByteCount;
        }

        return _tensors.Count == 0 ? length : GgufFormat.AlignUp(length, _alignment);
    }

    /// <summary>Writes the whole file to <paramref name="destination"/> from its current position (need not be seekable).</summary>
    public void WriteTo(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var output = new GgufBinaryOutput(destination);
        WriteHeaderAndInfos(output);
        foreach (var t in _tensors)
        {
            output.PadTo(_alignment);
            var before = output.Position;
            t.WriteData(output.Stream);
            var written = output.Position - before;
            if (written != t.ByteCount)
            {
                throw new InvalidOperationException($"The data writer of tensor '{t.Name}' wrote {written} bytes, expected {t.ByteCount}.");
            }
        }

        // llama.cpp pads the data section after the last tensor too.
        if (_tensors.Count > 0)
        {
            output.PadTo(_alignment);
        }

        output.Flush();
    }

    /// <summary>Writes the file to <paramref name="path"/> (created or overwritten).</summary>
    public void WriteTo(string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        WriteTo(file);
    }

    private void WriteHeaderAndInfos(GgufBinaryOutput o)
    {
        o.U32(GgufFormat.Magic);
        o.U32(Version);
        o.U64((ulong)_tensors.Count);
        o.U64((ulong)_metadata.Count);
        foreach (var (key, type, writeValue) in _metadata)
        {
            o.String(Utf8.GetBytes(key));
            o.U32((uint)type);
            writeValue(o);
        }

        long offset = 0;
        foreach (var t in _tensors)
        {
            o.String(Utf8.GetBytes(t.Name));
            o.U32((uint)t.Dims.Length);
            foreach (var d in t.Dims)
            {
                o.U64((ulong)d);
            }

            o.U32((uint)t.Type);
            o.U64((ulong)offset);
            offset = GgufFormat.AlignUp(offset + t.ByteCount, _alignment);
        }
    }

    private GgufWriter Add(string key, GgufValueType type, Action<GgufBinaryOutput> writeValue)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (Utf8.GetByteCount(key) > GgufFormat.MaxKeyBytes)
        {
            throw new ArgumentException($"Key is longer than {GgufFormat.MaxKeyBytes} bytes.", nameof(key));
        }

        if (!_keys.Add(key))
        {
            throw new ArgumentException($"Duplicate metadata key '{key}'.", nameof(key));
        }

        _metadata.Add((key, type, writeValue));
        return this;
    }

    private long CheckTensor(string name, GgmlType type, ReadOnlySpan<long> dims)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Utf8.GetByteCount(name) > GgufFormat.MaxTensorNameBytes)
        {
            throw new ArgumentException($"Tensor name '{name}' is longer than {GgufFormat.MaxTensorNameBytes} bytes.", nameof(name));
        }

        if (dims.Length is < 1 or > GgufFormat.MaxDimensions)
        {
            throw new ArgumentException($"Tensor '{name}' has {dims.Length} dimensions; 1 to {GgufFormat.MaxDimensions} are allowed.", nameof(dims));
        }

        if (!GgmlTypes.TryGetSize(type, out var size))
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown ggml type.");
        }

        if (!GgmlTypes.TryGetByteCount(type, dims, out _, out var byteCount))
        {
            throw new ArgumentException(
                $"Tensor '{name}' shape [{string.Join(", ", dims.ToArray())}] is invalid for {type}: dimensions must be positive, the first a multiple of {size.BlockSize}, and the size must fit in 64 bits.",
                nameof(dims));
        }

        if (!_tensorNames.Add(name))
        {
            throw new ArgumentException($"Duplicate tensor name '{name}'.", nameof(name));
        }

        return byteCount;
    }

    private static GgufValueType ScalarTypeOf<T>()
        where T : unmanaged =>
        typeof(T) == typeof(byte) ? GgufValueType.UInt8
        : typeof(T) == typeof(sbyte) ? GgufValueType.Int8
        : typeof(T) == typeof(ushort) ? GgufValueType.UInt16
        : typeof(T) == typeof(short) ? GgufValueType.Int16
        : typeof(T) == typeof(uint) ? GgufValueType.UInt32
        : typeof(T) == typeof(int) ? GgufValueType.Int32
        : typeof(T) == typeof(ulong) ? GgufValueType.UInt64
        : typeof(T) == typeof(long) ? GgufValueType.Int64
        : typeof(T) == typeof(float) ? GgufValueType.Float32
        : typeof(T) == typeof(double) ? GgufValueType.Float64
        : typeof(T) == typeof(bool) ? GgufValueType.Bool
        : throw new NotSupportedException($"GGUF has no array element type for {typeof(T)}.");

    private sealed record PendingTensor(string Name, GgmlType Type, long[] Dims, long ByteCount, Action<Stream> WriteData);
}

/// <summary>Little-endian output that counts the bytes written (the destination need not be seekable).</summary>
internal sealed class GgufBinaryOutput
{
    private static readonly byte[] Zeros = new byte[4096];
    private readonly CountingStream _stream;

    public GgufBinaryOutput(Stream destination) => _stream = new CountingStream(destination);

    public Stream Stream => _stream;

    public long Position => _stream.Written;

    public void U8(byte v) => _stream.WriteByte(v);

    public void U16(ushort v)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        _stream.Write(b);
    }

    public void U32(uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        _stream.Write(b);
    }

    public void U64(ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        _stream.Write(b);
    }

    public void Bytes(ReadOnlySpan<byte> bytes) => _stream.Write(bytes);

    public void String(byte[] utf8)
    {
        U64((ulong)utf8.Length);
        _stream.Write(utf8);
    }

    public void PadTo(uint alignment)
    {
        var padding = GgufFormat.AlignUp(Position, alignment) - Position;
        while (padding > 0)
        {
            var chunk = (int)Math.Min(padding, Zeros.Length);
            _stream.Write(Zeros, 0, chunk);
            padding -= chunk;
        }
    }

    public void Flush() => _stream.Flush();

    /// <summary>A write-only pass-through that counts bytes, handed to tensor data callbacks.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => Written;
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Written += buffer.Length;
        }

        public override void WriteByte(byte value)
        {
            inner.WriteByte(value);
            Written++;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            Written += buffer.Length;
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
