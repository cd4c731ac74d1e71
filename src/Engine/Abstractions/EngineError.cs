namespace InferenceMesh.Engine;

/// <summary>Expected failures of the engine, returned as values (never thrown).</summary>
public enum EngineError
{
    /// <summary>No failure.</summary>
    None = 0,
    /// <summary>The model file failed validation or llama.cpp refused to load it.</summary>
    ModelLoadFailed,
    /// <summary>The prompt (plus at least one generated token) does not fit a slot's context. <see cref="EngineFailure.Limit"/> names the limit.</summary>
    PromptTooLong,
    /// <summary>A request parameter is out of range. <see cref="EngineFailure.Param"/> names it.</summary>
    InvalidParameter,
    /// <summary>Every slot is busy and the wait queue is full: retry later.</summary>
    Overloaded,
    /// <summary>The model has no usable chat template and the fallback could not be applied.</summary>
    TemplateFailed,
    /// <summary>llama_decode failed (out of KV cells, native error).</summary>
    DecodeFailed,
    /// <summary>The engine is shutting down.</summary>
    ShuttingDown,
    /// <summary>The caller cancelled.</summary>
    Cancelled,
    /// <summary>llama.cpp refused a LoRA adapter (the reason is in the log). <see cref="EngineFailure.Param"/> names the request field.</summary>
    AdapterLoadFailed,
}

/// <summary>An expected failure with a message that is safe to show to a client (never prompt text).</summary>
public sealed record EngineFailure(EngineError Error, string Message, string? Param = null, int? Limit = null);

/// <summary>Either a value or an <see cref="EngineFailure"/>.</summary>
public readonly struct EngineResult<T>
{
    private EngineResult(T? value, EngineFailure? failure) { Value = value; Failure = failure; }

    public T? Value { get; }
    public EngineFailure? Failure { get; }
    public bool Succeeded => Failure is null;

    public static EngineResult<T> Ok(T value) => new(value, null);
    public static EngineResult<T> Fail(EngineFailure failure) => new(default, failure);
    public static EngineResult<T> Fail(EngineError error, string message, string? param = null, int? limit = null)
        => new(default, new EngineFailure(error, message, param, limit));

    public static implicit operator EngineResult<T>(EngineFailure failure) => Fail(failure);
}
