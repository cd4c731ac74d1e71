using System.Buffers.Binary;
using System.Text;
using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.Tests;

namespace InferenceMesh.ModelCache.Tests.Gguf;

/// <summary>Malformed input always gives an error value with a readable reason, never an exception.</summary>
public sealed class GgufReaderValidationTests
{
    private static readonly byte[] Stories = File.ReadAllBytes(TestPaths.Stories260K);

    [Fact]
    public void EveryTruncationOfStories260K_IsAnError()
    {
        var dataOffset = Read(Stories).File!.DataOffset;
        var lengths = Enumerable.Range(0, (int)dataOffset + 1)
            .Concat(Enumerable.Range(0, 64).Select(i => (int)dataOffset + 1 + i * ((Stories.Length - (int)dataOffset) / 64)))
            .Append(Stories.Length - 1)
            .Where(n => n < Stories.Length);
        foreach (var n in lengths)
        {
            var result = GgufReader.Read(new MemoryStream(Stories, 0, n, writable: false));
            Assert.False(result.IsValid, $"prefix of {n} bytes was accepted");
            Assert.False(string.IsNullOrWhiteSpace(result.Error.Reason));
            Assert.InRange(result.Error.ByteOffset, 0, n);
        }
    }

    [Fact]
    public void EmptyFile_IsAnError() => AssertError([], "empty file");

    [Fact]
    public void A_fifo_or_a_device_is_an_error_without_being_opened()
    {
        // Opened, a FIFO waited for a writer (here one is waiting, so the old reader saw an "empty file" instead).
        var fifo = Path.Combine(TestPaths.NewTempDir("im-gguf-fifo"), "pipe.gguf");
        using var writer = TestFifo.CreateWithWriterWaiting(fifo);

        Assert.Equal("is not a regular file (a FIFO, a device or a socket)", GgufReader.Read(fifo).Error?.Reason);
        Assert.Equal("is not a regular file (a FIFO, a device or a socket)", GgufReader.Read("/dev/zero").Error?.Reason);
    }

    [Fact]
    public void NotGguf_IsAnError() => AssertError(Encoding.ASCII.GetBytes("PK\u0003\u0004 this is a zip"), "not a GGUF file");

    [Theory]
    [InlineData(1u, "version 1")]
    [InlineData(4u, "unsupported GGUF version 4")]
    [InlineData(0x03000000u, "big-endian")]
    public void BadVersion_IsAnError(uint version, string expected)
    {
        var bytes = Stories.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), version);
        AssertError(bytes, expected);
    }

    [Fact]
    public void RandomBytes_AreErrors()
    {
        var random = new Random(20240601);
        for (var i = 0; i < 200; i++)
        {
            var bytes = new byte[random.Next(0, 4096)];
            random.NextBytes(bytes);
            if (i % 2 == 0 && bytes.Length >= 8)
            {
                // Past the magic and version, into the counts and metadata.
                Stories.AsSpan(0, 8).CopyTo(bytes);
            }

            Assert.False(Read(bytes).IsValid);
        }
    }

    [Theory]
    [InlineData(8, long.MaxValue, "tensor_count 9223372036854775807 cannot fit in a 1185376-byte file")]
    [InlineData(8, 1L << 32, "tensor_count 4294967296 cannot fit")]
    [InlineData(8, -1L, "tensor_count 18446744073709551615 cannot fit")]
    [InlineData(16, long.MaxValue, "kv_count 9223372036854775807 cannot fit in a 1185376-byte file")]
    [InlineData(16, 1L << 32, "kv_count 4294967296 cannot fit")]
    [InlineData(16, 100_000L, "kv_count 100000 cannot fit")]
    public void AbsurdCounts_AreErrors(int offset, long count, string expected)
    {
        var bytes = Stories.ToArray();
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset), count);
        AssertError(bytes, expected);
    }

    [Theory]
    [InlineData(1L << 62, "exceeds the maximum")]
    [InlineData(-1L, "exceeds the maximum")]
    [InlineData(70_000L, "exceeds the maximum 65535")]
    public void AbsurdKeyLength_IsAnError(long length, string expected)
    {
        var bytes = Stories.ToArray();
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(24), length); // the first key's length
        AssertError(bytes, expected);
    }

    [Fact]
    public void StringValueLongerThanTheFile_IsAnError()
    {
        var w = new GgufWriter();
        w.AddString("general.architecture", "llama");
        var bytes = Write(w);
        var lengthOffset = IndexOf(bytes, "general.architecture") + "general.architecture".Length + 4;
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(lengthOffset), 1000);
        AssertError(bytes, "truncated in string");
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(lengthOffset), long.MaxValue);
        AssertError(bytes, "exceeds the maximum");
    }

    [Fact]
    public void ArrayLengthLargerThanTheFile_IsAnError()
    {
        var w = new GgufWriter();
        w.AddArray("scores", new float[] { 1, 2, 3 });
        var bytes = Write(w);
        var countOffset = IndexOf(bytes, "scores") + "scores".Length + 4 + 4;
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(countOffset), 1L << 40);
        AssertError(bytes, "exceeds the maximum");
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(countOffset), 1000);
        AssertError(bytes, "cannot fit in the");
    }

    [Fact]
    public void UnknownValueTypes_AreErrors()
    {
        var w = new GgufWriter();
        w.AddUInt32("k", 1).AddArray("a", new[] { 1 });
        var bytes = Write(w);
        var typeOffset = IndexOf(bytes, "k") + 1;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(typeOffset), 13);
        AssertError(bytes, "key 'k' has unknown value type 13");

        bytes = Write(w);
        var elementTypeOffset = IndexOf(bytes, "a\u0009") + 1 + 4;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(elementTypeOffset), 99);
        AssertError(bytes, "array of unknown value type 99");
    }

    [Fact]
    public void DuplicateKey_IsAnError()
    {
        var w = new GgufWriter();
        w.AddUInt32("key.a", 1).AddUInt32("key.b", 2);
        var bytes = Write(w);
        bytes[IndexOf(bytes, "key.b") + 4] = (byte)'a';
        AssertError(bytes, "duplicate metadata key 'key.a'");
    }

    [Theory]
    [InlineData(48u, "general.alignment 48 is not a power of two")]
    [InlineData(0u, "general.alignment 0 is not a power of two")]
    public void BadAlignment_IsAnError(uint alignment, string expected)
    {
        var w = new GgufWriter();
        w.AddUInt32(GgufFormat.AlignmentKey, 32);
        w.AddTensor("x", [8], new float[8].AsMemory());
        var bytes = Write(w);
        var valueOffset = (int)Read(bytes).File!.Metadata[0].Offset;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(valueOffset), alignment);
        AssertError(bytes, expected);
    }

    [Fact]
    public void AlignmentOfTheWrongType_IsAnError()
    {
        var w = new GgufWriter();
        w.AddUInt64(GgufFormat.AlignmentKey, 32);
        AssertError(Write(w), "general.alignment has type UInt64");
    }

    [Fact]
    public void TensorDataPastEndOfFile_IsAnError()
    {
        var bytes = Write(TwoTensors());
        AssertError(bytes.AsSpan(0, bytes.Length - 40).ToArray(), "data ends at");
        AssertError(Stories.AsSpan(0, Stories.Length - 1).ToArray(), "beyond end of file 1185375");
    }

    [Fact]
    public void DuplicateTensorNames_AreErrors()
    {
        var bytes = Write(TwoTensors());
        bytes[IndexOf(bytes, "blk.b") + 4] = (byte)'a';
        AssertError(bytes, "duplicate tensor name 'blk.a'");
    }

    [Fact]
    public void TensorShapeAndTypeProblems_AreErrors()
    {
        AssertError(PatchTensor(TwoTensors(), "blk.b", nDims: 5), "has 5 dimensions");
        AssertError(PatchTensor(TwoTensors(), "blk.b", nDims: 0), "has 0 dimensions");
        AssertError(PatchTensor(TwoTensors(), "blk.b", dim0: 0), "dimension 0 is 0");
        AssertError(PatchTensor(TwoTensors(), "blk.b", dim0: -5), "dimension 0 is -5");
        AssertError(PatchTensor(TwoTensors(), "blk.b", type: 31), "unknown ggml type 31");
        AssertError(PatchTensor(TwoTensors(), "blk.b", type: 1000), "unknown ggml type 1000");
        AssertError(PatchTensor(TwoTensors(), "blk.b", type: (uint)GgmlType.Q4_K), "not a multiple of the Q4_K block size 256");
        AssertError(PatchTensor(TwoTensors(), "blk.b", dim0: long.MaxValue / 2 + 2), "overflows 64 bits");
    }

    [Fact]
    public void ElementCountOverflow_IsAnError()
    {
        var w = new GgufWriter();
        w.AddTensor("m", [4, 2], new float[8].AsMemory());
        var bytes = Write(w);
        var dims = IndexOf(bytes, "m\u0002") + 1 + 4;
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(dims), 1L << 40);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(dims + 8), 1L << 40);
        AssertError(bytes, "overflows 64 bits");
    }

    [Fact]
    public void TensorOffsetProblems_AreErrors()
    {
        AssertError(PatchTensor(TwoTensors(), "blk.b", offset: 3), "offset 3 is not a multiple of the alignment 32");
        AssertError(PatchTensor(TwoTensors(), "blk.b", offset: 0), "overlaps tensor 'blk.a'");
        AssertError(PatchTensor(TwoTensors(), "blk.b", offset: ulong.MaxValue - 31), "beyond end of file");
        AssertError(PatchTensor(TwoTensors(), "blk.a", offset: 128, also: ("blk.b", 0)), "has offset 128, expected 0");
    }

    [Fact]
    public void NestedArrays_AreReadAndFlagged_DeepNestingIsAnError()
    {
        // key "n": array of 2 arrays of uint8: [1], [2, 3]
        var ok = Header(kvCount: 1)
            .Concat(Str("n")).Concat(U32(9)).Concat(U32(9)).Concat(U64(2))
            .Concat(U32(0)).Concat(U64(1)).Append((byte)1)
            .Concat(U32(0)).Concat(U64(2)).Append((byte)2).Append((byte)3)
            .ToArray();
        var result = Read(ok);
        Assert.True(result.IsValid, result.ToString());
        Assert.True(result.File.HasNestedArrays);
        Assert.True(result.File.TryGetArray("n", out var outer));
        Assert.True(outer.TryGetValues<GgufArray>(out var inner));
        Assert.True(inner[1].TryGetValues<byte>(out var second));
        Assert.Equal(new byte[] { 2, 3 }, second);

        var deep = new List<byte>(Header(kvCount: 1).Concat(Str("d")).Concat(U32(9)));
        for (var i = 0; i < 5000; i++)
        {
            deep.AddRange(U32(9).Concat(U64(1)));
        }

        AssertError(deep.ToArray(), "nested deeper than");
    }

    [Fact]
    public void EmptyKeyAndEmptyTensorName_AreErrors()
    {
        AssertError(Header(kvCount: 1).Concat(Str("")).Concat(U32(0)).Append((byte)0).Concat(new byte[16]).ToArray(), "empty key");
        AssertError(
            Header(tensorCount: 1).Concat(Str("")).Concat(U32(1)).Concat(U64(1)).Concat(U32(0)).Concat(U64(0)).Concat(new byte[64]).ToArray(),
            "empty name");
    }

    [Fact]
    public void HostileNamesInReasons_AreEscaped()
    {
        var w = new GgufWriter();
        w.AddUInt32("evil\nkey", 1).AddUInt32("evil\nkez", 2);
        var bytes = Write(w);
        bytes[IndexOf(bytes, "evil\nkez") + 7] = (byte)'y';
        var error = AssertError(bytes, "duplicate metadata key 'evil\\u000Akey'");
        Assert.DoesNotContain('\n', error.Reason);
    }

    [Fact]
    public void MutationFuzz_OfASmallFileHeader_AlwaysGivesAValue()
    {
        var w = new GgufWriter();
        w.AddString("general.architecture", "llama").AddUInt32("llama.context_length", 128)
            .AddStringArray("tokenizer.ggml.tokens", ["a", "b", "c"]).AddArray("tokenizer.ggml.scores", new[] { 1f, 2f, 3f })
            .AddBool("flag", true);
        w.AddTensor("tok_embd.weight", [4, 3], new float[12].AsMemory());
        w.AddTensor("q", GgmlType.Q8_0, [32], new byte[34].AsMemory());
        var original = Write(w);
        var headerEnd = (int)Read(original).File!.DataOffset;
        var random = new Random(12345);
        var valid = 0;
        for (var i = 0; i < 2000; i++)
        {
            var bytes = original.ToArray();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
            {
                var at = random.Next(0, headerEnd);
                bytes[at] = random.Next(3) switch
                {
                    0 => (byte)(bytes[at] ^ (1 << random.Next(8))),
                    1 => 0xFF,
                    _ => (byte)random.Next(256),
                };
            }

            var result = Read(bytes); // must not throw
            Assert.True(result.IsValid || result.Error!.Reason.Length > 0);
            valid += result.IsValid ? 1 : 0;
        }

        Assert.InRange(valid, 1, 1999); // some flips hit string contents (still valid), most do not
    }

    internal static GgufReadResult Read(byte[] bytes) => GgufReader.Read(new MemoryStream(bytes, writable: false));

    private static GgufError AssertError(byte[] bytes, string expected)
    {
        var result = Read(bytes);
        Assert.False(result.IsValid, $"expected an error containing \"{expected}\"");
        Assert.Contains(expected, result.Error.Reason);
        return result.Error;
    }

    private static GgufWriter TwoTensors()
    {
        var w = new GgufWriter();
        w.AddString("general.architecture", "llama");
        w.AddTensor("blk.a", [32], new float[32].AsMemory());
        w.AddTensor("blk.b", [32], new float[32].AsMemory());
        return w;
    }

    private static byte[] PatchTensor(
        GgufWriter w, string name, uint? nDims = null, long? dim0 = null, uint? type = null, ulong? offset = null, (string Name, ulong Offset)? also = null)
    {
        var bytes = Write(w);
        Patch(bytes, name, nDims, dim0, type, offset);
        if (also is { } other)
        {
            Patch(bytes, other.Name, null, null, null, other.Offset);
        }

        return bytes;
    }

    private static void Patch(byte[] bytes, string name, uint? nDims, long? dim0, uint? type, ulong? offset)
    {
        // name, n_dims (1 here), dims[0], type, offset
        var at = IndexOf(bytes, name) + name.Length;
        if (nDims is { } n)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), n);
        }

        if (dim0 is { } d)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at + 4), d);
        }

        if (type is { } t)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 12), t);
        }

        if (offset is { } o)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 16), o);
        }
    }

    internal static byte[] Write(GgufWriter w)
    {
        var ms = new MemoryStream();
        w.WriteTo(ms);
        return ms.ToArray();
    }

    private static int IndexOf(byte[] haystack, string needle)
    {
        var i = haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle));
        Assert.True(i >= 0, $"'{needle}' not found");
        return i;
    }

    private static IEnumerable<byte> Header(ulong tensorCount = 0, ulong kvCount = 0) =>
        Encoding.ASCII.GetBytes("GGUF").Concat(U32(3)).Concat(U64(tensorCount)).Concat(U64(kvCount));

    private static byte[] Str(string s) => U64((ulong)Encoding.UTF8.GetByteCount(s)).Concat(Encoding.UTF8.GetBytes(s)).ToArray();

    private static byte[] U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    private static byte[] U64(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }
}
