namespace InferenceMesh.ClassifierTraining.Training;

/// <summary>
/// The network: input → hidden (ReLU) → three softmax heads (privacy, task, complexity).
/// Weights are row-major [in, out], exactly as the ONNX Gemm nodes consume them.
/// </summary>
internal sealed class MlpModel
{
    public MlpModel(int inputs, int hidden, IReadOnlyList<int> headSizes)
    {
        Inputs = inputs;
        Hidden = hidden;
        HeadSizes = headSizes.ToArray();
        W1 = new float[inputs * hidden];
        B1 = new float[hidden];
        HeadWeights = HeadSizes.Select(k => new float[hidden * k]).ToArray();
        HeadBiases = HeadSizes.Select(k => new float[k]).ToArray();
    }

    public int Inputs { get; }
    public int Hidden { get; }
    public int[] HeadSizes { get; }
    public float[] W1 { get; }
    public float[] B1 { get; }
    public float[][] HeadWeights { get; }
    public float[][] HeadBiases { get; }

    /// <summary>Every parameter array, in a fixed order (for the optimiser and for copying).</summary>
    public IEnumerable<float[]> Parameters()
    {
        yield return W1;
        yield return B1;
        for (var h = 0; h < HeadSizes.Length; h++)
        {
            yield return HeadWeights[h];
            yield return HeadBiases[h];
        }
    }

    public int ParameterCount => Parameters().Sum(p => p.Length);

    /// <summary>Small seeded uniform init (Glorot-style for the heads).</summary>
    public void Initialise(Random random)
    {
        for (var i = 0; i < W1.Length; i++)
        {
            W1[i] = (float)((random.NextDouble() * 2 - 1) * 0.05);
        }

        for (var h = 0; h < HeadSizes.Length; h++)
        {
            var limit = Math.Sqrt(6.0 / (Hidden + HeadSizes[h]));
            var w = HeadWeights[h];
            for (var i = 0; i < w.Length; i++)
            {
                w[i] = (float)((random.NextDouble() * 2 - 1) * limit);
            }
        }
    }

    public void CopyFrom(MlpModel other)
    {
        foreach (var (target, source) in Parameters().Zip(other.Parameters()))
        {
            source.CopyTo(target, 0);
        }
    }

    public MlpModel Clone()
    {
        var copy = new MlpModel(Inputs, Hidden, HeadSizes);
        copy.CopyFrom(this);
        return copy;
    }

    /// <summary>The managed forward pass over a dense input: the reference the ONNX export is tested against.</summary>
    public float[][] Forward(ReadOnlySpan<float> input)
    {
        if (input.Length != Inputs)
        {
            throw new ArgumentException($"Expected {Inputs} inputs, got {input.Length}.", nameof(input));
        }

        var hidden = B1.ToArray();
        for (var i = 0; i < input.Length; i++)
        {
            var x = input[i];
            if (x == 0f)
            {
                continue;
            }

            var row = W1.AsSpan(i * Hidden, Hidden);
            for (var j = 0; j < Hidden; j++)
            {
                hidden[j] += x * row[j];
            }
        }

        Relu(hidden);
        return HeadsFrom(hidden);
    }

    /// <summary>The forward pass over a sparse input; <paramref name="preActivation"/> receives the hidden layer before ReLU.</summary>
    public float[][] Forward(SparseVector input, Span<float> preActivation, Span<float> hidden)
    {
        B1.CopyTo(preActivation);
        for (var n = 0; n < input.Indices.Length; n++)
        {
            var x = input.Values[n];
            var row = W1.AsSpan(input.Indices[n] * Hidden, Hidden);
            for (var j = 0; j < Hidden; j++)
            {
                preActivation[j] += x * row[j];
            }
        }

        preActivation.CopyTo(hidden);
        Relu(hidden);
        return HeadsFrom(hidden);
    }

    private float[][] HeadsFrom(ReadOnlySpan<float> hidden)
    {
        var outputs = new float[HeadSizes.Length][];
        for (var h = 0; h < HeadSizes.Length; h++)
        {
            var k = HeadSizes[h];
            var logits = HeadBiases[h].ToArray();
            var w = HeadWeights[h];
            for (var j = 0; j < Hidden; j++)
            {
                var a = hidden[j];
                if (a == 0f)
                {
                    continue;
                }

                for (var c = 0; c < k; c++)
                {
                    logits[c] += a * w[j * k + c];
                }
            }

            Softmax(logits);
            outputs[h] = logits;
        }

        return outputs;
    }

    private static void Relu(Span<float> values)
    {
        for (var j = 0; j < values.Length; j++)
        {
            values[j] = MathF.Max(0f, values[j]);
        }
    }

    internal static void Softmax(Span<float> logits)
    {
        var max = float.NegativeInfinity;
        foreach (var v in logits)
        {
            max = MathF.Max(max, v);
        }

        var sum = 0f;
        for (var c = 0; c < logits.Length; c++)
        {
            logits[c] = MathF.Exp(logits[c] - max);
            sum += logits[c];
        }

        for (var c = 0; c < logits.Length; c++)
        {
            logits[c] /= sum;
        }
    }
}

/// <summary>The non-zero entries of a feature vector.</summary>
internal sealed record SparseVector(int[] Indices, float[] Values)
{
    public static SparseVector FromDense(ReadOnlySpan<float> dense)
    {
        var count = 0;
        foreach (var v in dense)
        {
            if (v != 0f)
            {
                count++;
            }
        }

        var indices = new int[count];
        var values = new float[count];
        var n = 0;
        for (var i = 0; i < dense.Length; i++)
        {
            if (dense[i] != 0f)
            {
                indices[n] = i;
                values[n++] = dense[i];
            }
        }

        return new SparseVector(indices, values);
    }
}
