using System.ComponentModel.DataAnnotations;

namespace InferenceMesh.Engine.Quantization;

/// <summary>How one quantisation runs. Every default matches llama-quantize run as <c>llama-quantize IN OUT TYPE</c>.</summary>
public sealed record QuantizeOptions
{
    /// <summary>
    /// Worker threads. The default value is null: <see cref="Environment.ProcessorCount"/>. (llama-quantize passes 0,
    /// which llama.cpp turns into <c>std::thread::hardware_concurrency()</c>.) The output does not depend on it:
    /// llama.cpp quantises independent rows per thread.
    /// </summary>
    [Range(1, 1024)]
    public int? Threads { get; init; }

    /// <summary>
    /// Allow an already quantised input (llama-quantize <c>--allow-requantize</c>). The default value is false.
    /// </summary>
    public bool AllowRequantize { get; init; } = QuantizeDefaults.AllowRequantize;

    /// <summary>Replace an existing output file. The default value is false (<see cref="QuantizeError.OutputExists"/>).</summary>
    public bool Overwrite { get; init; } = QuantizeDefaults.Overwrite;

    /// <summary>
    /// The expected size of the output in bytes, for progress (see <see cref="QuantizedSizeEstimator"/>). The default value
    /// is null: progress is indeterminate, reported only as 0 at the start and 1 on success.
    /// </summary>
    [Range(1, long.MaxValue)]
    public long? ExpectedOutputBytes { get; init; }

    /// <summary>How often the output file's growth is sampled for progress. The default value is 250 ms.</summary>
    public TimeSpan ProgressInterval { get; init; } = QuantizeDefaults.ProgressInterval;

    /// <summary>Throws <see cref="ValidationException"/> naming the first invalid property.</summary>
    public void Validate()
    {
        Validator.ValidateObject(this, new ValidationContext(this), validateAllProperties: true);
        if (ProgressInterval <= TimeSpan.Zero)
        {
            throw new ValidationException($"{nameof(ProgressInterval)} must be positive (was {ProgressInterval}).");
        }
    }
}

/// <summary>The defaults of <see cref="QuantizeOptions"/>.</summary>
internal static class QuantizeDefaults
{
    public const bool AllowRequantize = false;

    public const bool Overwrite = false;

    public static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>The temporary output's suffix: not ".gguf", so the catalog never lists a half-written file.</summary>
    public const string PartialSuffix = ".partial";
}
