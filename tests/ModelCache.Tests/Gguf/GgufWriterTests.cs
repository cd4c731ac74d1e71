using InferenceMesh.ModelCache.Gguf;

namespace InferenceMesh.ModelCache.Tests.Gguf;

public sealed class GgufWriterTests
{
    [Fact]
    public void RoundTrip_AllValueTypes_TensorsAndPadding()
    {
        var q8 = new byte[34 * 2]; // two Q8_0 blocks: 64 elements
        new Random(1).NextBytes(q8);
        var w = new GgufWriter();
        w.AddString("general.architecture", "llama")
            .AddString("general.name", "tiny ünïcode")
            .AddUInt8("u8", 200).AddInt8("i8", -5)
            .AddUInt16("u16", 60000).AddInt16("i16", -30000)
            .AddUInt32("llama.context_length", 4096).AddInt32("i32", -7)
            .AddUInt64("u64", ulong.MaxValue).AddInt64("i64", long.MinValue)
            .AddFloat32("f32", 1.5f).AddFloat64("f64", Math.PI)
            .AddBool("yes", true)
            .AddArray("arr.u8", new byte[] { 1, 2, 3 })
            .AddArray("arr.i32", new[] { -1, 0, 1 })
            .AddArray("arr.f32", new[] { 0.5f, 2f })
            .AddArray("arr.f64", new[] { 1.0, 2.0 })
            .AddArray("arr.bool", new[] { true, false, true })
            .AddArray("arr.i64", new[] { long.MaxValue })
            .AddStringArray("tokenizer.ggml.tokens", ["<unk>", "a", "ü", ""]);
        var f32 = Enumerable.Range(0, 6).Select(i => (float)i).ToArray();
        w.AddTensor("a.weight", [3, 2], f32.AsMemory());
        w.AddTensor("b.weight", GgmlType.Q8_0, [64], q8.AsMemory());
        w.AddTensor("c.weight", GgmlType.F16, [5], s => s.Write(new byte[10]));

        var ms = new MemoryStream();
        w.WriteTo(ms);
        Assert.Equal(w.ComputeLength(), ms.Length);
        ms.Position = 0;

        var result = GgufReader.Read(ms);
        Assert.True(result.IsValid, result.ToString());
        var file = result.File;
        Assert.Equal(3u, file.Version);
        Assert.Equal("llama", file.Architecture);
        Assert.Equal("tiny ünïcode", file.Name);
        Assert.Equal(4096, file.ContextLength);
        Assert.True(file.TryGetUInt8("u8", out var u8) && u8 == 200);
        Assert.True(file.TryGetInt8("i8", out var i8) && i8 == -5);
        Assert.True(file.TryGetUInt16("u16", out var u16) && u16 == 60000);
        Assert.True(file.TryGetInt16("i16", out var i16) && i16 == -30000);
        Assert.True(file.TryGetInt32("i32", out var i32) && i32 == -7);
        Assert.True(file.TryGetUInt64("u64", out var u64) && u64 == ulong.MaxValue);
        Assert.True(file.TryGetInt64("i64", out var i64) && i64 == long.MinValue);
        Assert.True(file.TryGetFloat32("f32", out var fl) && fl == 1.5f);
        Assert.True(file.TryGetFloat64("f64", out var db) && db == Math.PI);
        Assert.True(file.TryGetBool("yes", out var yes) && yes);
        Assert.False(file.TryGetUInt32("u8", out _)); // typed access is exact
        Assert.True(file.TryGetArray("arr.u8", out var a1) && a1.TryGetValues<byte>(out var bytes) && bytes.SequenceEqual(new byte[] { 1, 2, 3 }));
        Assert.True(file.TryGetArray("arr.i32", out var a2) && a2.TryGetValues<int>(out var ints) && ints.SequenceEqual(new[] { -1, 0, 1 }));
        Assert.True(file.TryGetArray("arr.f32", out var a3) && a3.TryGetValues<float>(out var floats) && floats.SequenceEqual(new[] { 0.5f, 2f }));
        Assert.True(file.TryGetArray("arr.f64", out var a4) && a4.TryGetValues<double>(out var doubles) && doubles.SequenceEqual(new[] { 1.0, 2.0 }));
        Assert.True(file.TryGetArray("arr.bool", out var a5) && a5.TryGetValues<bool>(out var bools) && bools.SequenceEqual(new[] { true, false, true }));
        Assert.True(file.TryGetArray("arr.i64", out var a6) && a6.TryGetValues<long>(out var longs) && longs.SequenceEqual(new[] { long.MaxValue }));
        Assert.True(file.TryGetArray("tokenizer.ggml.tokens", out var tokens));
        Assert.True(tokens.TryGetValues<string>(out var strings));
        Assert.Equal(["<unk>", "a", "ü", ""], strings);

        Assert.Equal(3, file.Tensors.Count);
        Assert.Equal(6 + 64 + 5, file.ParameterCount);
        Assert.Equal(0, file.DataOffset % 32);
        Assert.All(file.Tensors, t => Assert.Equal(0, t.Offset % 32));
        Assert.Equal([3L, 2L], file.Tensors[0].Dimensions);
        Assert.Equal(GgmlType.Q8_0, file.Tensors[1].Type);
        Assert.Equal(68, file.Tensors[1].ByteCount);
        Assert.Equal(q8, ms.ToArray().AsSpan((int)file.Tensors[1].FileOffset, 68).ToArray());
        Assert.Equal(1f, BitConverter.ToSingle(ms.ToArray(), (int)file.Tensors[0].FileOffset + 4));
    }

    [Fact]
    public void CustomAlignment_IsWrittenAndRespected()
    {
        var w = new GgufWriter();
        w.AddUInt32(GgufFormat.AlignmentKey, 64);
        w.AddTensor("x", [3], new float[3].AsMemory());
        w.AddTensor("y", [3], new float[3].AsMemory());
        var file = WriteAndRead(w);
        Assert.Equal(64u, file.Alignment);
        Assert.Equal(0, file.DataOffset % 64);
        Assert.Equal(64, file.Tensors[1].Offset);
    }

    [Fact]
    public void Version2_IsReadable()
    {
        var w = new GgufWriter { Version = 2 };
        w.AddString("general.architecture", "llama");
        w.AddTensor("x", [4], new float[4].AsMemory());
        Assert.Equal(2u, WriteAndRead(w).Version);
    }

    [Fact]
    public void StreamedTensor_WritingTheWrongLength_Throws()
    {
        var w = new GgufWriter();
        w.AddTensor("x", GgmlType.F32, [4], s => s.Write(new byte[15]));
        Assert.Throws<InvalidOperationException>(() => w.WriteTo(new MemoryStream()));
    }

    [Fact]
    public void Misuse_Throws()
    {
        var w = new GgufWriter();
        w.AddString("k", "v");
        Assert.Throws<ArgumentException>(() => w.AddString("k", "again"));
        Assert.Throws<ArgumentOutOfRangeException>(() => w.AddUInt32(GgufFormat.AlignmentKey, 48));
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.Q4_0, [33], new byte[100].AsMemory()));
        Assert.Throws<ArgumentException>(() => w.AddTensor("z", GgmlType.F32, [1, 1, 1, 1, 1], new byte[4].AsMemory()));
        Assert.Throws<ArgumentException>(() => w.AddTensor("n", GgmlType.F32, [2], new byte[4].AsMemory()));
        w.AddTensor("t", GgmlType.F32, [1], new byte[4].AsMemory());
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [1], new byte[4].AsMemory()));
    }

    [Fact]
    public void TypeSizes_MatchGgml()
    {
        Assert.Equal(new GgmlTypeSize(32, 18), GgmlTypes.GetSize(GgmlType.Q4_0));
        Assert.Equal(new GgmlTypeSize(256, 144), GgmlTypes.GetSize(GgmlType.Q4_K));
        Assert.Equal(new GgmlTypeSize(256, 210), GgmlTypes.GetSize(GgmlType.Q6_K));
        Assert.Equal(new GgmlTypeSize(32, 17), GgmlTypes.GetSize(GgmlType.MXFP4));
        Assert.False(GgmlTypes.IsKnown((GgmlType)4));
        Assert.False(GgmlTypes.IsKnown((GgmlType)31));
        Assert.Equal(35, GgmlTypes.All.Count);
    }

    internal static GgufFile WriteAndRead(GgufWriter w)
    {
        var ms = new MemoryStream();
        w.WriteTo(ms);
        ms.Position = 0;
        var result = GgufReader.Read(ms);
        Assert.True(result.IsValid, result.ToString());
        return result.File;
    }
}
