namespace InferenceMesh.ContextStore.Rag;

/// <summary>What kind of expected failure a RAG operation met; the HTTP layer maps each to a status code.</summary>
public enum RagErrorKind
{
    /// <summary>An argument is invalid (400).</summary>
    Invalid,

    /// <summary>A file, vector store or model does not exist (404).</summary>
    NotFound,

    /// <summary>An upload is larger than the limit (413).</summary>
    TooLarge,

    /// <summary>A part the operation needs is not available now: the embedding model, sqlite-vec (503).</summary>
    Unavailable,

    /// <summary>The caller cancelled.</summary>
    Cancelled,
}

/// <summary>An expected failure as a value. Messages are for clients: they name ids and limits, never document or query text.</summary>
/// <param name="Param">The request field it concerns, when one does.</param>
/// <param name="Code">A short machine-readable code, e.g. "file_not_found".</param>
public sealed record RagError(RagErrorKind Kind, string Message, string? Param = null, string? Code = null)
{
    public static RagError NotFound(string what, string id, string? param = null) =>
        new(RagErrorKind.NotFound, $"No {what} with id '{Printable(id)}'.", param, what.Replace(' ', '_') + "_not_found");

    public static RagError Invalid(string param, string message) => new(RagErrorKind.Invalid, message, param, "invalid_value");

    /// <summary>An id as it may appear in a message: printable ASCII, at most 64 characters.</summary>
    public static string Printable(string text)
    {
        var clean = new string([.. text.Take(64).Select(c => c is >= ' ' and < (char)127 ? c : '?')]);
        return text.Length > 64 ? clean + "…" : clean;
    }
}

/// <summary>A value or a <see cref="RagError"/>.</summary>
public readonly record struct RagResult<T>(T? Value, RagError? Error)
{
    public bool Succeeded => Error is null;

    public static implicit operator RagResult<T>(T value) => new(value, null);

    public static implicit operator RagResult<T>(RagError error) => new(default, error);
}
