using InferenceMesh.Engine;

namespace InferenceMesh.Gateway.Errors;

/// <summary>The one place where an engine failure becomes an HTTP status and an OpenAI error.</summary>
public static class EngineFailureMapping
{
    /// <summary>Status 499 (client closed request), used only for logs and metrics: the client is gone.</summary>
    public const int ClientClosedRequest = 499;

    /// <param name="failure">The engine's failure; its message is safe to show.</param>
    /// <param name="promptParam">The request field that carried the prompt ("messages", "prompt", "input"), or the element of it ("prompt[2]", "input[0]").</param>
    /// <param name="retryAfterSeconds">Sent in Retry-After for transient failures.</param>
    public static ApiError ToApiError(EngineFailure failure, string promptParam, int retryAfterSeconds) => failure.Error switch
    {
        EngineError.PromptTooLong => new(
            StatusCodes.Status400BadRequest,
            PromptTooLongMessage(failure, promptParam),
            ApiError.InvalidRequest, promptParam, "context_length_exceeded"),

        EngineError.InvalidParameter => new(
            StatusCodes.Status400BadRequest, failure.Message, ApiError.InvalidRequest, failure.Param, "invalid_value"),

        EngineError.TemplateFailed => new(
            StatusCodes.Status400BadRequest, $"The chat template could not be applied to these messages. {failure.Message}".TrimEnd(),
            ApiError.InvalidRequest, "messages", "chat_template_failed"),

        EngineError.Overloaded => new(
            StatusCodes.Status503ServiceUnavailable, "The engine is overloaded: every slot is busy and the queue is full. Retry later.",
            ApiError.ServerError, null, "overloaded", retryAfterSeconds),

        EngineError.ShuttingDown => new(
            StatusCodes.Status503ServiceUnavailable, "The server is shutting down.", ApiError.ServerError, null, "shutting_down", retryAfterSeconds),

        EngineError.ModelLoadFailed => new(
            StatusCodes.Status500InternalServerError, $"The model could not be loaded. {failure.Message}".TrimEnd(),
            ApiError.ServerError, "model", "model_load_failed"),

        EngineError.DecodeFailed => new(
            StatusCodes.Status500InternalServerError, $"The generation failed in the engine. {failure.Message}".TrimEnd(),
            ApiError.ServerError, null, "decode_failed"),

        EngineError.AdapterLoadFailed => new(
            StatusCodes.Status500InternalServerError, $"A LoRA adapter could not be loaded. {failure.Message}".TrimEnd(),
            ApiError.ServerError, failure.Param ?? "lora", "adapter_load_failed"),

        EngineError.Cancelled => new(
            ClientClosedRequest, "The request was cancelled.", ApiError.InvalidRequest, null, "cancelled"),

        _ => ApiErrors.Internal(),
    };

    private static string PromptTooLongMessage(EngineFailure failure, string promptParam) => failure.Limit switch
    {
        // Embeddings generate nothing: only the input itself must fit.
        { } limit when promptParam.StartsWith("input", StringComparison.Ordinal) => $"An input does not fit this model's context of {limit} tokens for embeddings. Shorten it. {failure.Message}".TrimEnd(),
        { } limit => $"The prompt does not fit this model's context of {limit} tokens per sequence (the prompt plus at least one generated token must fit). Shorten it. {failure.Message}".TrimEnd(),
        null => $"The prompt does not fit this model's context. {failure.Message}".TrimEnd(),
    };
}
