using System.ComponentModel.DataAnnotations;

namespace InferenceMesh.Classifier.Model;

/// <summary>How the prompt model is loaded and run. Immutable; validated when the model is created.</summary>
public sealed record PromptModelOptions
{
    /// <summary>
    /// Path of an .onnx file to load instead of the model embedded in this assembly.
    /// The default value is <see langword="null"/>: the embedded prompt-classifier.onnx.
    /// </summary>
    public string? ModelPath { get; init; }

    /// <summary>
    /// Threads ONNX Runtime may use inside one call. The default value is 1: the model is tiny, and
    /// parallelism comes from concurrent requests, each running on its caller's thread.
    /// </summary>
    [Range(1, 64)]
    public int IntraOpNumThreads { get; init; } = PromptModelConstants.DefaultIntraOpNumThreads;

    /// <summary>
    /// Scratch buffer sets kept for reuse between calls; calls beyond this many at once allocate and
    /// release their own. The default value is <see cref="Environment.ProcessorCount"/> times 2.
    /// </summary>
    [Range(1, 1024)]
    public int MaxPooledBuffers { get; init; } = PromptModelConstants.DefaultMaxPooledBuffers;
}

/// <summary>The defaults of <see cref="PromptModelOptions"/>, in one place.</summary>
internal static class PromptModelConstants
{
    public const int DefaultIntraOpNumThreads = 1;

    public static readonly int DefaultMaxPooledBuffers = Math.Max(2, Environment.ProcessorCount * 2);

    /// <summary>The manifest name of the embedded model (see the csproj).</summary>
    public const string EmbeddedResourceName = "InferenceMesh.Classifier.Model.prompt-classifier.onnx";
}
