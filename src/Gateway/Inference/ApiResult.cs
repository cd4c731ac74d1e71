using InferenceMesh.Gateway.Errors;

namespace InferenceMesh.Gateway.Inference;

/// <summary>A value or the <see cref="ApiError"/> to answer with.</summary>
public readonly record struct ApiResult<T>(T? Value, ApiError? Error)
{
    public static implicit operator ApiResult<T>(T value) => new(value, null);
    public static implicit operator ApiResult<T>(ApiError error) => new(default, error);
}
