using System.ComponentModel.DataAnnotations;

namespace InferenceMesh.Engine.Quantization;

/// <summary>How one quantisation runs. Every default matches llama-quantize run as <c>llama-quantize IN OUT TYPE</c>.</summary>
public sealed record QuantizeOptions
{
    /// <summary>
    /// Worker threads, 1 to 1024. The default value is null: <see cref="Environment.ProcessorCount"/>. (llama-quantize passes 0,
    /// which llama.cpp turns into <c>std::thread::hardware_concurrency()</c>.) The output does not depend on it:
    /// llama.cpp quantises independent rows per thread.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Allow an already quantised input (llama-quantize <c>--allow-requantize</c>). The default value is false.
    /// </summary>
    public bool AllowRequantize { get; init; } = QuantizeDefaults.AllowRequantize;

    /// <summary>Replace an existing output file. The default value is false (<see cref="QuantizeError.OutputExists"/>).</summary>
    public bool Overwrite { get; init; } = QuantizeDefaults.Overwrite;

    /// <summary>
    /// The expected size of the output in bytes (positive), for progress (see <see cref="QuantizedSizeEstimator"/>). The default value
    /// is null: progress is indeterminate, reported only as 0 at the start and 1 on success.
    /// </summary>
    public long? ExpectedOutputBytes { get; init; }

    /// <summary>How often the output file's growth is sampled for progress. The default value is 250 ms.</summary>
    public TimeSpan ProgressInterval { get; init; } = QuantizeDefaults.ProgressInterval;

    /// <summary>
    /// Throws <see cref="ValidationException"/> naming the first invalid property. Plain checks, not data annotations:
    /// the reflection-based <c>Validator.ValidateObject</c> cost 25 ms on the first call of a process (the generated
    /// options validator still 12–18 ms), a quarter of the fixed cost of a one-off quantisation (bench/README.md).
    /// </summary>
    public void Validate()
    {
        if (Threads is < 1 or > QuantizeDefaults.MaxThreads)
        {
            throw new ValidationException($"{nameof(Threads)} must be between 1 and {QuantizeDefaults.MaxThreads} (was {Threads}).");
        }

        if (ExpectedOutputBytes is < 1)
        {
            throw new ValidationException($"{nameof(ExpectedOutputBytes)} must be positive (was {ExpectedOutputBytes}).");
        }

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

    public const int MaxThreads = 1024;

    public static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>The temporary output's suffix: not ".gguf", so the catalog never lists a half-written file.</summary>
    public const string PartialSuffix = ".partial";
}
