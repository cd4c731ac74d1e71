namespace InferenceMesh.Engine.Quantization;

/// <summary>
/// Quantises a GGUF model in process through llama.cpp's <c>llama_model_quantize</c>, with llama-quantize's defaults, so
/// the output is byte-identical to <c>llama-quantize IN OUT TYPE</c> of the same llama.cpp tag (v0.5.0).
/// </summary>
/// <remarks>
/// The caller validates the input: the Engine does not know the GGUF reader, and llama.cpp aborts the process on some
/// malformed files instead of returning an error. Hand it only files that <c>GgufReader</c> (ModelCache) accepted, as
/// the <c>models quantize</c> command does. Thread-safe: calls may overlap (each runs on its own thread, and each
/// uses <see cref="QuantizeOptions.Threads"/> cores: overlapping calls compete for them).
/// </remarks>
public interface ILlamaQuantizer
{
    /// <summary>
    /// Writes <paramref name="outputPath"/> (through a temporary file in the same folder, renamed on success only).
    /// Expected failures come back as <see cref="QuantizeResult.Error"/>; the output file exists only on success.
    /// </summary>
    /// <param name="progress">
    /// 0 at the start, then the temporary file's size over <see cref="QuantizeOptions.ExpectedOutputBytes"/> (capped at
    /// 0.99) every <see cref="QuantizeOptions.ProgressInterval"/>, and 1 on success. Without an expected size only 0 and 1.
    /// </param>
    /// <param name="cancellationToken">
    /// Checked before the native call; while it runs, a cancellation deletes the temporary file at once and answers
    /// <see cref="QuantizeError.Cancelled"/> without waiting: llama.cpp's quantiser has no way to stop, so its thread
    /// writes on into the deleted file and keeps its cores until it ends (a CLI that exits on Ctrl-C leaves nothing behind).
    /// </param>
    Task<QuantizeResult> QuantizeAsync(
        string inputPath,
        string outputPath,
        QuantizationType type,
        QuantizeOptions? options = null,
        IProgress<double>? progress = null,
        CancellationToken cancellationToken = default);
}
