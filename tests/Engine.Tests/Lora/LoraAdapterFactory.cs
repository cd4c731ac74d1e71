using InferenceMesh.ModelCache.Gguf;

namespace InferenceMesh.Tests.Lora;

/// <summary>
/// Writes small LoRA adapters for a base model with our own <see cref="GgufWriter"/>: seeded random A/B matrices on a
/// few attention and FFN weights of every layer, alpha set, in the layout llama.cpp's adapter loader expects
/// (<c>general.type = adapter</c>, <c>adapter.type = lora</c>, <c>adapter.lora.alpha</c>, the base's architecture,
/// <c>&lt;base tensor&gt;.lora_a</c> of ne = [base ne0, rank] and <c>.lora_b</c> of ne = [rank, base ne1]).
/// Shared by the engine, model cache and gateway tests (linked into each project).
/// </summary>
internal static class LoraAdapterFactory
{
    /// <summary>The base weights that get an adapter, per layer.</summary>
    public static readonly string[] DefaultTargets = ["attn_q", "attn_v", "ffn_up", "ffn_down"];

    public sealed record Options
    {
        public int Seed { get; init; } = 1;
        public int Rank { get; init; } = 4;
        public float? Alpha { get; init; } = 8f;
        /// <summary>Standard deviation of the A and B entries.</summary>
        public float Spread { get; init; } = 0.2f;
        public IReadOnlyList<string> Targets { get; init; } = DefaultTargets;
        /// <summary>Overrides general.architecture (default: the base's).</summary>
        public string? Architecture { get; init; }
        /// <summary>Overrides general.type (default "adapter").</summary>
        public string GeneralType { get; init; } = "adapter";
        /// <summary>Adds an A/B pair for a tensor the base does not have.</summary>
        public bool AddUnknownTensor { get; init; }
        /// <summary>Leaves out the first .lora_b tensor.</summary>
        public bool DropOneB { get; init; }
        /// <summary>Gives the first pair a wrong input dimension.</summary>
        public bool WrongShape { get; init; }
        /// <summary>Writes adapter.lora.alpha as a uint32 instead of a float32 (llama.cpp aborts on that).</summary>
        public bool AlphaAsInteger { get; init; }
    }

    /// <summary>Writes an adapter for the model at <paramref name="basePath"/> to <paramref name="path"/>.</summary>
    public static void Write(string basePath, string path, Options? options = null)
    {
        options ??= new Options();
        var read = GgufReader.Read(basePath);
        if (!read.IsValid)
        {
            throw new InvalidOperationException($"base model invalid: {read.Error}");
        }

        var baseFile = read.File;
        var random = new Random(options.Seed);
        var writer = new GgufWriter();
        writer.AddString("general.architecture", options.Architecture ?? baseFile.Architecture!);
        writer.AddString("general.type", options.GeneralType);
        writer.AddString("general.name", "test adapter");
        writer.AddString("adapter.type", "lora");
        if (options.Alpha is { } alpha)
        {
            if (options.AlphaAsInteger)
            {
                writer.AddUInt32("adapter.lora.alpha", (uint)alpha);
            }
            else
            {
                writer.AddFloat32("adapter.lora.alpha", alpha);
            }
        }

        var first = true;
        foreach (var tensor in baseFile.Tensors)
        {
            var parts = tensor.Name.Split('.');
            if (parts.Length != 4 || parts[0] != "blk" || !options.Targets.Contains(parts[2]) || tensor.Dimensions.Count != 2)
            {
                continue;
            }

            var inputs = tensor.Dimensions[0] + (first && options.WrongShape ? 1 : 0);
            var outputs = tensor.Dimensions[1];
            writer.AddTensor(tensor.Name + ".lora_a", [inputs, options.Rank], Random(random, inputs * options.Rank, options.Spread));
            if (!(first && options.DropOneB))
            {
                writer.AddTensor(tensor.Name + ".lora_b", [options.Rank, outputs], Random(random, options.Rank * outputs, options.Spread));
            }

            first = false;
        }

        if (options.AddUnknownTensor)
        {
            writer.AddTensor("blk.99.attn_q.weight.lora_a", [64, options.Rank], Random(random, 64 * options.Rank, options.Spread));
            writer.AddTensor("blk.99.attn_q.weight.lora_b", [options.Rank, 64], Random(random, options.Rank * 64, options.Spread));
        }

        writer.WriteTo(path);
    }

    private static float[] Random(Random random, long count, float spread)
    {
        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            // Box-Muller: normal with the given spread.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            values[i] = (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2) * spread);
        }

        return values;
    }
}
