using System.Diagnostics.CodeAnalysis;

namespace InferenceMesh.Engine.Quantization;

/// <summary>Why a quantisation did not produce its output. Expected failures are values, never exceptions.</summary>
public enum QuantizeError
{
    None = 0,

    /// <summary>The type is not in llama-quantize's table.</summary>
    UnknownType,

    /// <summary>The options failed validation.</summary>
    InvalidOptions,

    /// <summary>The input file does not exist.</summary>
    InputNotFound,

    /// <summary>The input exists but cannot be opened for reading.</summary>
    InputUnreadable,

    /// <summary>The input and output are the same file.</summary>
    SameFile,

    /// <summary>The output's folder does not exist.</summary>
    OutputFolderMissing,

    /// <summary>The output exists and <see cref="QuantizeOptions.Overwrite"/> is false.</summary>
    OutputExists,

    /// <summary>The llama.cpp libraries could not be loaded.</summary>
    NativeLibraryUnavailable,

    /// <summary>
    /// <c>llama_model_quantize</c> returned non-zero: an input llama.cpp cannot load, an already quantised input without
    /// <see cref="QuantizeOptions.AllowRequantize"/>, a type that needs an importance matrix, a write error. llama.cpp's
    /// own reason is in the log (native log bridge, event id 1010).
    /// </summary>
    NativeFailed,

    /// <summary>The temporary file could not be renamed to the output.</summary>
    OutputWriteFailed,

    /// <summary>Cancelled: before the native call, or observed when it returned (it cannot be interrupted).</summary>
    Cancelled,
}

/// <summary>The outcome of <see cref="ILlamaQuantizer.QuantizeAsync"/>.</summary>
public sealed record QuantizeResult
{
    public required QuantizeError Error { get; init; }

    /// <summary>What happened, for people; never contains model data.</summary>
    public required string Message { get; init; }

    /// <summary>The resolved type, when the name was known.</summary>
    public QuantizationTypeInfo? Type { get; init; }

    /// <summary>The output path (written only on success).</summary>
    public string? OutputPath { get; init; }

    /// <summary>The output's size in bytes on success.</summary>
    public long OutputBytes { get; init; }

    /// <summary><c>llama_model_quantize</c>'s return value when it ran (0 = success).</summary>
    public uint? NativeCode { get; init; }

    /// <summary>Threads given to llama.cpp.</summary>
    public int Threads { get; init; }

    /// <summary>Wall time of the native call.</summary>
    public TimeSpan Elapsed { get; init; }

    [MemberNotNullWhen(true, nameof(OutputPath), nameof(Type))]
    public bool Succeeded => Error == QuantizeError.None;

    public override string ToString() => Succeeded ? $"{Type.Name}: {OutputPath} ({OutputBytes} bytes, {Elapsed.TotalSeconds:0.00} s)" : $"{Error}: {Message}";
}
