namespace InferenceMesh.ClassifierTraining.Training;

/// <summary>One featurised example with a label index per head.</summary>
internal sealed record TrainingExample(SparseVector Features, int[] Labels);

/// <summary>Trainer settings. Every default is the one the committed model was trained with.</summary>
internal sealed record TrainerOptions
{
    /// <summary>Hidden units. The default value is 32.</summary>
    public int Hidden { get; init; } = 32;

    /// <summary>Seed for initialisation and shuffling. The default value is 20240601.</summary>
    public int Seed { get; init; } = 20240601;

    /// <summary>Upper bound on epochs. The default value is 30.</summary>
    public int MaxEpochs { get; init; } = 30;

    /// <summary>Epochs without a better validation loss before stopping. The default value is 4.</summary>
    public int Patience { get; init; } = 4;

    /// <summary>Mini-batch size. The default value is 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam step size. The default value is 0.002.</summary>
    public float LearningRate { get; init; } = 0.002f;

    /// <summary>L2 penalty added to every weight's gradient (not biases). The default value is 1e-5.</summary>
    public float WeightDecay { get; init; } = 1e-5f;
}

/// <summary>What training produced: the best model on the validation slice and its history.</summary>
internal sealed record TrainingResult(MlpModel Model, int BestEpoch, double BestValidationLoss, IReadOnlyList<string> History);

/// <summary>
/// Mini-batch Adam on the summed cross-entropy of the three heads, with early stopping on a validation
/// slice. Single-threaded and seeded: the same data and options give the same weights bit for bit
/// (on the same .NET runtime).
/// </summary>
internal static class MlpTrainer
{
    public static TrainingResult Train(
        IReadOnlyList<TrainingExample> train,
        IReadOnlyList<TrainingExample> validation,
        int inputs,
        IReadOnlyList<int> headSizes,
        TrainerOptions options,
        Action<string>? log = null)
    {
        var random = new Random(options.Seed);
        var model = new MlpModel(inputs, options.Hidden, headSizes);
        model.Initialise(random);

        var parameters = model.Parameters().ToArray();
        var gradients = parameters.Select(p => new float[p.Length]).ToArray();
        var m = parameters.Select(p => new float[p.Length]).ToArray();
        var v = parameters.Select(p => new float[p.Length]).ToArray();
        // Weight decay applies to W1 and the head weights (even positions), not to biases.
        var decays = Enumerable.Range(0, parameters.Length).Select(i => i % 2 == 0).ToArray();

        var order = Enumerable.Range(0, train.Count).ToArray();
        var best = model.Clone();
        var bestLoss = double.PositiveInfinity;
        var bestEpoch = 0;
        var history = new List<string>();
        var step = 0;
        const float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;

        var pre = new float[options.Hidden];
        var hidden = new float[options.Hidden];
        var dHidden = new float[options.Hidden];

        for (var epoch = 1; epoch <= options.MaxEpochs; epoch++)
        {
            random.Shuffle(order);
            double trainLoss = 0;
            for (var start = 0; start < order.Length; start += options.BatchSize)
            {
                var end = Math.Min(order.Length, start + options.BatchSize);
                foreach (var g in gradients)
                {
                    Array.Clear(g);
                }

                for (var b = start; b < end; b++)
                {
                    trainLoss += Backward(model, train[order[b]], gradients, pre, hidden, dHidden);
                }

                step++;
                var scale = 1f / (end - start);
                var lr = options.LearningRate * MathF.Sqrt(1 - MathF.Pow(beta2, step)) / (1 - MathF.Pow(beta1, step));
                for (var p = 0; p < parameters.Length; p++)
                {
                    var w = parameters[p];
                    var g = gradients[p];
                    var mp = m[p];
                    var vp = v[p];
                    var decay = decays[p] ? options.WeightDecay : 0f;
                    for (var i = 0; i < w.Length; i++)
                    {
                        var gi = g[i] * scale + decay * w[i];
                        mp[i] = beta1 * mp[i] + (1 - beta1) * gi;
                        vp[i] = beta2 * vp[i] + (1 - beta2) * gi * gi;
                        w[i] -= lr * mp[i] / (MathF.Sqrt(vp[i]) + epsilon);
                    }
                }
            }

            var validationLoss = Loss(model, validation);
            var line = $"epoch {epoch,2}: train loss {trainLoss / train.Count:F4}, validation loss {validationLoss:F4}";
            history.Add(line);
            log?.Invoke(line);
            if (validationLoss < bestLoss - 1e-4)
            {
                bestLoss = validationLoss;
                bestEpoch = epoch;
                best.CopyFrom(model);
            }
            else if (epoch - bestEpoch >= options.Patience)
            {
                log?.Invoke($"early stop: no better validation loss since epoch {bestEpoch}");
                break;
            }
        }

        return new TrainingResult(best, bestEpoch, bestLoss, history);
    }

    /// <summary>Mean summed cross-entropy over <paramref name="examples"/>.</summary>
    public static double Loss(MlpModel model, IReadOnlyList<TrainingExample> examples)
    {
        if (examples.Count == 0)
        {
            return 0;
        }

        var pre = new float[model.Hidden];
        var hidden = new float[model.Hidden];
        double total = 0;
        foreach (var example in examples)
        {
            var outputs = model.Forward(example.Features, pre, hidden);
            for (var h = 0; h < outputs.Length; h++)
            {
                total -= Math.Log(Math.Max(1e-12, outputs[h][example.Labels[h]]));
            }
        }

        return total / examples.Count;
    }

    /// <summary>Adds one example's gradients into <paramref name="gradients"/>; returns its loss.</summary>
    private static double Backward(MlpModel model, TrainingExample example, float[][] gradients, float[] pre, float[] hidden, float[] dHidden)
    {
        var outputs = model.Forward(example.Features, pre, hidden);
        var hiddenCount = model.Hidden;
        Array.Clear(dHidden);
        double loss = 0;

        for (var h = 0; h < outputs.Length; h++)
        {
            var k = model.HeadSizes[h];
            var probabilities = outputs[h];
            var label = example.Labels[h];
            loss -= Math.Log(Math.Max(1e-12, probabilities[label]));

            var gW = gradients[2 + 2 * h];
            var gB = gradients[3 + 2 * h];
            var w = model.HeadWeights[h];
            for (var c = 0; c < k; c++)
            {
                var dz = probabilities[c] - (c == label ? 1f : 0f);
                gB[c] += dz;
                for (var j = 0; j < hiddenCount; j++)
                {
                    gW[j * k + c] += hidden[j] * dz;
                    dHidden[j] += w[j * k + c] * dz;
                }
            }
        }

        var gW1 = gradients[0];
        var gB1 = gradients[1];
        for (var j = 0; j < hiddenCount; j++)
        {
            dHidden[j] = pre[j] > 0f ? dHidden[j] : 0f;
            gB1[j] += dHidden[j];
        }

        var features = example.Features;
        for (var n = 0; n < features.Indices.Length; n++)
        {
            var x = features.Values[n];
            var offset = features.Indices[n] * hiddenCount;
            for (var j = 0; j < hiddenCount; j++)
            {
                gW1[offset + j] += x * dHidden[j];
            }
        }

        return loss;
    }
}
