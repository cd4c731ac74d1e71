namespace InferenceMesh.ContextStore.Responses;

/// <summary>
/// Stored Responses API responses (<c>store: true</c>) on this machine: each one's input and output as chat messages (what a
/// later <c>previous_response_id</c> puts before its own input), the response object as it was answered, the response it
/// followed and the privacy level it was routed at. Thread-safe; each write is one transaction. Holds prompt and answer
/// text: never log what it returns.
/// </summary>
public interface IResponseStore
{
    /// <summary>Stores a response (its id is new).</summary>
    void Save(StoredResponse response);

    /// <summary>The response, or null when there is none with this id.</summary>
    StoredResponse? Get(string id);

    /// <summary>Deletes one response (the ones that followed it keep theirs); false when there was none.</summary>
    bool Delete(string id);

    /// <summary>
    /// The response <paramref name="id"/> and those it followed, oldest first, read in one transaction; null when there is no
    /// response with this id. A response deleted from the middle of a chain ends the chain there (its turns are gone).
    /// </summary>
    IReadOnlyList<StoredResponse>? Chain(string id);
}

/// <param name="Id"><c>resp_</c> and 32 hex digits.</param>
/// <param name="PreviousId">The response it followed (<c>previous_response_id</c>), or null.</param>
/// <param name="Privacy">The level the request was routed at (the classifier's <c>PrivacyLevel</c> value): a chain's level is the highest of its responses'.</param>
/// <param name="Messages">This turn's input and output as a JSON array of chat messages (instructions excluded: they do not carry over).</param>
/// <param name="Response">The response object as JSON, as the client got it.</param>
public sealed record StoredResponse(string Id, string? PreviousId, DateTimeOffset CreatedAt, int Privacy, string Messages, string Response);

/// <summary>Names of the response store.</summary>
public static class ResponseStoreDefaults
{
    /// <summary>The module name of the migrations (table <c>responses</c>).</summary>
    public const string Module = "responses";
}
