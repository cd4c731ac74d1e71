using InferenceMesh.ContextStore.Rag;
using InferenceMesh.Gateway.Errors;

namespace InferenceMesh.Gateway.Rag;

/// <summary>RAG failures in OpenAI's error shape.</summary>
internal static class RagErrorMapping
{
    public static ApiError ToApiError(this RagError error) => error.Kind switch
    {
        RagErrorKind.NotFound => new ApiError(StatusCodes.Status404NotFound, error.Message, ApiError.InvalidRequest, error.Param, error.Code ?? "not_found"),
        RagErrorKind.TooLarge => new ApiError(StatusCodes.Status413PayloadTooLarge, error.Message, ApiError.InvalidRequest, error.Param, error.Code ?? "request_too_large"),
        RagErrorKind.Unavailable => new ApiError(StatusCodes.Status503ServiceUnavailable, error.Message, ApiError.ServerError, error.Param, error.Code ?? "unavailable"),
        RagErrorKind.Cancelled => new ApiError(499, error.Message, ApiError.InvalidRequest, error.Param, error.Code ?? "cancelled"),
        _ => new ApiError(StatusCodes.Status400BadRequest, error.Message, ApiError.InvalidRequest, error.Param, error.Code ?? "invalid_value"),
    };
}
