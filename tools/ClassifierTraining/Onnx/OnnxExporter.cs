using System.Globalization;
using Google.Protobuf;
using InferenceMesh.Classifier.Model;
using InferenceMesh.ClassifierTraining.Training;

namespace InferenceMesh.ClassifierTraining.Onnx;

/// <summary>
/// Writes an <see cref="MlpModel"/> as an ONNX model (IR version 8, opset 13):
/// features[batch, D] → Gemm → Relu → per head Gemm → Softmax → privacy / task / complexity.
/// Weights are initializers (raw little-endian float32); the metadata carries the featuriser settings
/// and label names the runtime checks (<see cref="PromptModelMetadata"/>), plus provenance.
/// The output is a pure function of the model and metadata: the same inputs give the same bytes.
/// </summary>
internal static class OnnxExporter
{
    public const long IrVersion = 8;
    public const long Opset = 13;
    public const string ProducerName = "InferenceMesh.ClassifierTraining";

    private static readonly string[] HeadNames =
        [PromptModelMetadata.PrivacyOutput, PromptModelMetadata.TaskOutput, PromptModelMetadata.ComplexityOutput];

    /// <summary>The metadata the runtime validates, plus the given provenance entries.</summary>
    public static IReadOnlyDictionary<string, string> StandardMetadata(int seed, string datasetVersion, int hidden)
    {
        var metadata = new Dictionary<string, string>(PromptModelMetadata.Expected)
        {
            [PromptModelMetadata.TrainingSeedKey] = seed.ToString(CultureInfo.InvariantCulture),
            [PromptModelMetadata.DatasetVersionKey] = datasetVersion,
            [PromptModelMetadata.HiddenUnitsKey] = hidden.ToString(CultureInfo.InvariantCulture),
        };
        return metadata;
    }

    public static byte[] Export(MlpModel model, IReadOnlyDictionary<string, string> metadata)
    {
        if (model.HeadSizes.Length != HeadNames.Length)
        {
            throw new ArgumentException($"Expected {HeadNames.Length} heads, got {model.HeadSizes.Length}.", nameof(model));
        }

        var graph = new GraphProto { Name = "prompt_classifier" };
        graph.Input.Add(FloatMatrix(PromptModelMetadata.InputName, model.Inputs));

        graph.Initializer.Add(Tensor("hidden.weight", model.W1, model.Inputs, model.Hidden));
        graph.Initializer.Add(Tensor("hidden.bias", model.B1, model.Hidden));
        graph.Node.Add(Gemm("hidden_gemm", PromptModelMetadata.InputName, "hidden.weight", "hidden.bias", "hidden.pre"));
        graph.Node.Add(Node("Relu", "hidden_relu", ["hidden.pre"], ["hidden"]));

        for (var h = 0; h < HeadNames.Length; h++)
        {
            var name = HeadNames[h];
            var k = model.HeadSizes[h];
            graph.Initializer.Add(Tensor($"{name}.weight", model.HeadWeights[h], model.Hidden, k));
            graph.Initializer.Add(Tensor($"{name}.bias", model.HeadBiases[h], k));
            graph.Node.Add(Gemm($"{name}_gemm", "hidden", $"{name}.weight", $"{name}.bias", $"{name}.logits"));
            var softmax = Node("Softmax", $"{name}_softmax", [$"{name}.logits"], [name]);
            softmax.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -1 });
            graph.Node.Add(softmax);
            graph.Output.Add(FloatMatrix(name, k));
        }

        var modelProto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = "1",
            Domain = "inference_mesh",
            ModelVersion = 1,
            DocString = "Inference Mesh prompt classifier: privacy level, task type and complexity. See docs/classifier.md.",
            Graph = graph,
        };
        modelProto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            modelProto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        return modelProto.ToByteArray();
    }

    private static NodeProto Gemm(string name, string a, string b, string c, string output) =>
        Node("Gemm", name, [a, b, c], [output]);

    private static NodeProto Node(string opType, string name, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    private static TensorProto Tensor(string name, float[] values, params long[] dims)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }

        var tensor = new TensorProto
        {
            Name = name,
            DataType = (int)TensorProto.Types.DataType.Float,
            RawData = ByteString.CopyFrom(bytes),
        };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    private static ValueInfoProto FloatMatrix(string name, int columns)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = columns });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape },
            },
        };
    }
}
