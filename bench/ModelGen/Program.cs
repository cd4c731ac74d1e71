using System.Buffers.Binary;
using System.Globalization;
using InferenceMesh.ModelCache.Gguf;

// Writes a llama-architecture GGUF with realistic shapes and seeded random weights (normal * scale, norms = 1).
// llama.cpp's speed does not depend on the weight values, so such a model benchmarks like a real one of its
// shape. The tokenizer (tokenizer.* keys) is copied from a real vocabulary file, e.g. llama.cpp's
// models/ggml-vocab-llama-spm.gguf, whose vocabulary size becomes the model's.
//
//   bench-modelgen --vocab VOCAB.gguf --out MODEL.gguf [--embd 768] [--layers 12] [--heads 12] [--kv-heads 12]
//                  [--ff 2048] [--ctx 2048] [--seed 1234] [--scale 0.02] [--type f16|f32]
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal))
    {
        Console.Error.WriteLine($"expected '--name value', got '{args[i]}'");
        return 2;
    }

    options[args[i][2..]] = args[i + 1];
}

if (!options.TryGetValue("vocab", out var vocabPath) || !options.TryGetValue("out", out var outPath) || args.Length % 2 != 0)
{
    Console.Error.WriteLine("usage: bench-modelgen --vocab VOCAB.gguf --out MODEL.gguf [--embd 768] [--layers 12] [--heads 12] "
        + "[--kv-heads 12] [--ff 2048] [--ctx 2048] [--seed 1234] [--scale 0.02] [--type f16|f32]");
    return 2;
}

var shape = new ModelShape
{
    Embedding = Int("embd", 768),
    Layers = Int("layers", 12),
    Heads = Int("heads", 12),
    KvHeads = Int("kv-heads", Int("heads", 12)),
    FeedForward = Int("ff", 2048),
    ContextLength = Int("ctx", 2048),
};
var seed = Int("seed", 1234);
var scale = float.Parse(options.GetValueOrDefault("scale", "0.02"), CultureInfo.InvariantCulture);
var weightType = options.GetValueOrDefault("type", "f16") switch
{
    "f16" => GgmlType.F16,
    "f32" => GgmlType.F32,
    var other => throw new ArgumentException($"--type must be f16 or f32, not {other}"),
};

// Vocabularies are larger than the reader's default materialisation limit.
var vocabRead = GgufReader.Read(vocabPath, new GgufReaderOptions { MaxMaterializedArrayElements = 1 << 22 });
if (!vocabRead.IsValid)
{
    Console.Error.WriteLine($"{vocabPath}: {vocabRead.Error}");
    return 1;
}

var vocab = vocabRead.File;
if (!vocab.TryGetArray("tokenizer.ggml.tokens", out var tokens))
{
    Console.Error.WriteLine($"{vocabPath} has no tokenizer.ggml.tokens");
    return 1;
}

var vocabSize = checked((int)tokens.Count);
var writer = new GgufWriter();
const string Arch = "llama";
writer.AddString("general.architecture", Arch)
    .AddString("general.name", $"bench-random-{shape.ParameterCount(vocabSize) / 1_000_000}M")
    .AddString("general.description", $"random weights (seed {seed}, normal x {scale.ToString(CultureInfo.InvariantCulture)}), for speed benchmarks only")
    .AddUInt32("general.file_type", weightType == GgmlType.F16 ? 1u : 0u) // LLAMA_FTYPE_MOSTLY_F16 / ALL_F32
    .AddUInt32($"{Arch}.context_length", (uint)shape.ContextLength)
    .AddUInt32($"{Arch}.embedding_length", (uint)shape.Embedding)
    .AddUInt32($"{Arch}.block_count", (uint)shape.Layers)
    .AddUInt32($"{Arch}.feed_forward_length", (uint)shape.FeedForward)
    .AddUInt32($"{Arch}.attention.head_count", (uint)shape.Heads)
    .AddUInt32($"{Arch}.attention.head_count_kv", (uint)shape.KvHeads)
    .AddUInt32($"{Arch}.rope.dimension_count", (uint)shape.HeadDim)
    .AddFloat32($"{Arch}.rope.freq_base", 10000f)
    .AddFloat32($"{Arch}.attention.layer_norm_rms_epsilon", 1e-5f)
    .AddUInt32($"{Arch}.vocab_size", (uint)vocabSize);

var copied = 0;
foreach (var entry in vocab.Metadata.Where(m => m.Key.StartsWith("tokenizer.", StringComparison.Ordinal)))
{
    CopyEntry(writer, entry);
    copied++;
}

// Tensor shapes as llama.cpp's llama model loader expects them (ggml order: ne0, the row length, first).
long e = shape.Embedding, f = shape.FeedForward, kv = (long)shape.HeadDim * shape.KvHeads, v = vocabSize;
var index = 0;
void Weight(string name, params long[] dims) =>
    writer.AddTensor(name, weightType, dims, RandomTensor(weightType, dims[0] * dims[1], scale, seed, index++));
void Norm(string name) => writer.AddTensor(name, [e], Ones(e));

writer.AddTensor("token_embd.weight", weightType, [e, v], RandomTensor(weightType, e * v, scale, seed, index++));
for (var layer = 0; layer < shape.Layers; layer++)
{
    var p = $"blk.{layer}.";
    Norm(p + "attn_norm.weight");
    Weight(p + "attn_q.weight", e, e);
    Weight(p + "attn_k.weight", e, kv);
    Weight(p + "attn_v.weight", e, kv);
    Weight(p + "attn_output.weight", e, e);
    Norm(p + "ffn_norm.weight");
    Weight(p + "ffn_gate.weight", e, f);
    Weight(p + "ffn_up.weight", e, f);
    Weight(p + "ffn_down.weight", f, e);
}

Norm("output_norm.weight");
Weight("output.weight", e, v);

var directory = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
Directory.CreateDirectory(directory);
var temporary = outPath + ".partial";
writer.WriteTo(temporary);
File.Move(temporary, outPath, overwrite: true);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"wrote {outPath}: {shape.ParameterCount(vocabSize):N0} parameters, {writer.TensorCount} tensors, {weightType}, "
    + $"vocab {vocabSize} ({copied} tokenizer keys from {Path.GetFileName(vocabPath)}), {new FileInfo(outPath).Length / 1048576.0:F1} MiB"));
return 0;

int Int(string name, int fallback) =>
    options.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

static ReadOnlyMemory<float> Ones(long n)
{
    var ones = new float[n];
    Array.Fill(ones, 1f);
    return ones;
}

// Each tensor gets its own generator seeded from (seed, index), so the file is reproducible byte for byte.
static Action<Stream> RandomTensor(GgmlType type, long count, float scale, int seed, int index) => stream =>
{
    var random = new Random(unchecked((seed * 1_000_003) + index));
    const int Chunk = 1 << 16; // elements per write; even, for Box-Muller pairs
    var elementSize = type == GgmlType.F16 ? 2 : 4;
    var buffer = new byte[Chunk * elementSize];
    for (long done = 0; done < count; done += Chunk)
    {
        var n = (int)Math.Min(Chunk, count - done);
        for (var i = 0; i < n; i += 2)
        {
            // Box-Muller: two independent standard normals from two uniforms in (0, 1].
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            var r = Math.Sqrt(-2.0 * Math.Log(u1));
            Put(buffer, i, (float)(r * Math.Cos(2 * Math.PI * u2) * scale), type);
            if (i + 1 < n)
            {
                Put(buffer, i + 1, (float)(r * Math.Sin(2 * Math.PI * u2) * scale), type);
            }
        }

        stream.Write(buffer, 0, n * elementSize);
    }
};

static void Put(byte[] buffer, int i, float value, GgmlType type)
{
    if (type == GgmlType.F16)
    {
        BinaryPrimitives.WriteHalfLittleEndian(buffer.AsSpan(i * 2), (Half)value);
    }
    else
    {
        BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4), value);
    }
}

static void CopyEntry(GgufWriter writer, GgufMetadataEntry entry)
{
    switch (entry.Value)
    {
        case string s: writer.AddString(entry.Key, s); break;
        case bool b: writer.AddBool(entry.Key, b); break;
        case byte x: writer.AddUInt8(entry.Key, x); break;
        case sbyte x: writer.AddInt8(entry.Key, x); break;
        case ushort x: writer.AddUInt16(entry.Key, x); break;
        case short x: writer.AddInt16(entry.Key, x); break;
        case uint x: writer.AddUInt32(entry.Key, x); break;
        case int x: writer.AddInt32(entry.Key, x); break;
        case ulong x: writer.AddUInt64(entry.Key, x); break;
        case long x: writer.AddInt64(entry.Key, x); break;
        case float x: writer.AddFloat32(entry.Key, x); break;
        case double x: writer.AddFloat64(entry.Key, x); break;
        case GgufArray { Values: string[] a }: writer.AddStringArray(entry.Key, a); break;
        case GgufArray { Values: float[] a }: writer.AddArray(entry.Key, a); break;
        case GgufArray { Values: int[] a }: writer.AddArray(entry.Key, a); break;
        case GgufArray { Values: uint[] a }: writer.AddArray(entry.Key, a); break;
        case GgufArray { Values: bool[] a }: writer.AddArray(entry.Key, a); break;
        case GgufArray { Values: byte[] a }: writer.AddArray(entry.Key, a); break;
        case GgufArray { Values: long[] a }: writer.AddArray(entry.Key, a); break;
        case GgufArray { Values: double[] a }: writer.AddArray(entry.Key, a); break;
        default: throw new NotSupportedException($"cannot copy metadata '{entry.Key}' of type {entry.Type} ({entry.Value.GetType().Name})");
    }
}

/// <summary>The dimensions of the generated model.</summary>
internal sealed record ModelShape
{
    public required int Embedding { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int FeedForward { get; init; }
    public required int ContextLength { get; init; }

    public int HeadDim => Embedding / Heads;

    public long ParameterCount(int vocab)
    {
        long e = Embedding, kv = (long)HeadDim * KvHeads;
        var perLayer = (2 * e * e) + (2 * e * kv) + (3 * e * FeedForward) + (2 * e);
        return (2 * e * vocab) + (Layers * perLayer) + e;
    }
}
