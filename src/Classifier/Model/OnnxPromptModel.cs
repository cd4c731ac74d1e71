using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace InferenceMesh.Classifier.Model;

/// <summary>
/// The prompt model on ONNX Runtime (CPU): featurises the text with <see cref="PromptFeaturiser"/> and
/// runs the three-headed MLP exported by tools/ClassifierTraining.
/// </summary>
/// <remarks>
/// Thread-safe: one <see cref="InferenceSession"/> is shared by all callers (ONNX Runtime allows
/// concurrent <c>Run</c> calls on one session); each call borrows its own pinned input and output
/// buffers from a small pool, so nothing mutable is shared between concurrent calls. With
/// <see cref="PromptModelOptions.IntraOpNumThreads"/> = 1 every call runs entirely on its caller's thread.
/// Dispose only once no call is in flight (the host does this at shutdown).
/// </remarks>
internal sealed class OnnxPromptModel : IPromptModel, IDisposable
{
    private static readonly string[] InputNames = [PromptModelMetadata.InputName];
    private static readonly string[] OutputNames =
        [PromptModelMetadata.PrivacyOutput, PromptModelMetadata.TaskOutput, PromptModelMetadata.ComplexityOutput];

    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly ConcurrentBag<Scratch> _pool = [];
    private readonly int _maxPooled;
    private int _pooled;
    private bool _disposed;

    private OnnxPromptModel(InferenceSession session, string source, int maxPooled)
    {
        _session = session;
        Source = source;
        _maxPooled = maxPooled;
    }

    /// <summary>Where the model came from: a file path or "embedded:&lt;resource name&gt;".</summary>
    public string Source { get; }

    /// <summary>The model's own metadata (seed, data-set version, featuriser settings, labels).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _session.ModelMetadata.CustomMetadataMap;

    /// <summary>
    /// Loads a model from its bytes and checks it against this build's featuriser and labels.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not a model this runtime can use; the message says why.</exception>
    public static OnnxPromptModel Load(byte[] onnx, string source, PromptModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ArgumentNullException.ThrowIfNull(options);

        using var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = options.IntraOpNumThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };

        InferenceSession session;
        try
        {
            session = new InferenceSession(onnx, sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidDataException($"The prompt model '{source}' could not be loaded by ONNX Runtime: {ex.Message}", ex);
        }

        try
        {
            Validate(session, source);
        }
        catch
        {
            session.Dispose();
            throw;
        }

        return new OnnxPromptModel(session, source, options.MaxPooledBuffers);
    }

    public ModelPrediction Predict(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        ObjectDisposedException.ThrowIf(_disposed, this);

        var scratch = Rent();
        try
        {
            PromptFeaturiser.Featurise(text, scratch.Input);
            _session.Run(_runOptions, InputNames, scratch.Inputs, OutputNames, scratch.Outputs);

            var (privacy, privacyConfidence) = ArgMax(scratch.Privacy);
            var (task, taskConfidence) = ArgMax(scratch.Task);
            var (complexity, complexityConfidence) = ArgMax(scratch.Complexity);
            return new ModelPrediction(
                (PrivacyLevel)privacy, privacyConfidence,
                (TaskType)task, taskConfidence,
                (Complexity)complexity, complexityConfidence);
        }
        finally
        {
            Return(scratch);
        }
    }

    /// <summary>The three heads' full distributions for <paramref name="text"/> (for tests and the trainer's report).</summary>
    internal (float[] Privacy, float[] Task, float[] Complexity) PredictDistributions(string text)
    {
        var scratch = Rent();
        try
        {
            PromptFeaturiser.Featurise(text, scratch.Input);
            _session.Run(_runOptions, InputNames, scratch.Inputs, OutputNames, scratch.Outputs);
            return (scratch.Privacy.ToArray(), scratch.Task.ToArray(), scratch.Complexity.ToArray());
        }
        finally
        {
            Return(scratch);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        while (_pool.TryTake(out var scratch))
        {
            scratch.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
    }

    private static void Validate(InferenceSession session, string source)
    {
        var problems = new List<string>(PromptModelMetadata.FindMismatches(session.ModelMetadata.CustomMetadataMap));

        if (!session.InputMetadata.TryGetValue(PromptModelMetadata.InputName, out var input))
        {
            problems.Add($"no input named '{PromptModelMetadata.InputName}'");
        }
        else if (input.ElementDataType != TensorElementType.Float || input.Dimensions.Length != 2
                 || input.Dimensions[1] != PromptFeaturiser.Width)
        {
            problems.Add($"input '{PromptModelMetadata.InputName}' is {input.ElementDataType}[{string.Join(',', input.Dimensions)}], expected Float[batch,{PromptFeaturiser.Width}]");
        }

        CheckOutput(session, PromptModelMetadata.PrivacyOutput, PromptModelMetadata.PrivacyLabels.Count, problems);
        CheckOutput(session, PromptModelMetadata.TaskOutput, PromptModelMetadata.TaskLabels.Count, problems);
        CheckOutput(session, PromptModelMetadata.ComplexityOutput, PromptModelMetadata.ComplexityLabels.Count, problems);

        if (problems.Count > 0)
        {
            throw new InvalidDataException(
                $"The prompt model '{source}' does not match this build's featuriser (v{PromptFeaturiser.Version}) and labels: " +
                string.Join("; ", problems) +
                ". Rebuild it with: dotnet run -c Release --project tools/ClassifierTraining -- --out src/Classifier/Model/prompt-classifier.onnx --report docs/classifier.md");
        }
    }

    private static void CheckOutput(InferenceSession session, string name, int classes, List<string> problems)
    {
        if (!session.OutputMetadata.TryGetValue(name, out var output))
        {
            problems.Add($"no output named '{name}'");
        }
        else if (output.ElementDataType != TensorElementType.Float || output.Dimensions.Length != 2 || output.Dimensions[1] != classes)
        {
            problems.Add($"output '{name}' is {output.ElementDataType}[{string.Join(',', output.Dimensions)}], expected Float[batch,{classes}]");
        }
    }

    private static (int Index, float Value) ArgMax(float[] values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return (best, values[best]);
    }

    private Scratch Rent()
    {
        if (_pool.TryTake(out var scratch))
        {
            Interlocked.Decrement(ref _pooled);
            return scratch;
        }

        return new Scratch();
    }

    private void Return(Scratch scratch)
    {
        if (!_disposed && Interlocked.Increment(ref _pooled) <= _maxPooled)
        {
            _pool.Add(scratch);
            return;
        }

        Interlocked.Decrement(ref _pooled);
        scratch.Dispose();
    }

    /// <summary>One call's pinned buffers: the input vector and the three output distributions.</summary>
    private sealed class Scratch : IDisposable
    {
        public readonly float[] Input = new float[PromptFeaturiser.Width];
        public readonly float[] Privacy = new float[PromptModelMetadata.PrivacyLabels.Count];
        public readonly float[] Task = new float[PromptModelMetadata.TaskLabels.Count];
        public readonly float[] Complexity = new float[PromptModelMetadata.ComplexityLabels.Count];
        public readonly OrtValue[] Inputs;
        public readonly OrtValue[] Outputs;

        public Scratch()
        {
            Inputs = [OrtValue.CreateTensorValueFromMemory(Input, [1, Input.Length])];
            Outputs =
            [
                OrtValue.CreateTensorValueFromMemory(Privacy, [1, Privacy.Length]),
                OrtValue.CreateTensorValueFromMemory(Task, [1, Task.Length]),
                OrtValue.CreateTensorValueFromMemory(Complexity, [1, Complexity.Length]),
            ];
        }

        public void Dispose()
        {
            foreach (var value in Inputs)
            {
                value.Dispose();
            }

            foreach (var value in Outputs)
            {
                value.Dispose();
            }
        }
    }
}
