namespace InferenceMesh.ContextStore.Responses;

/// <summary>
/// Stored Responses API responses (<c>store: true</c>) on this machine: each one's input and output as chat messages (what a
/// later <c>previous_response_id</c> puts before its own input), its input as Responses items, the response object as it
/// was answered, the response it followed and the privacy level it was routed at. A response expires
/// <see cref="ResponseStoreOptions.Retention"/> after it was created: from then on no method returns it (nor a chain through
/// it), and the context store's retention service deletes it. Thread-safe; each write is one transaction. Holds prompt and
/// answer text: never log what it returns.
/// </summary>
public interface IResponseStore
{
    /// <summary>Stores a response (its id is new).</summary>
    void Save(StoredResponse response);

    /// <summary>The response, or null when there is none with this id (or it expired).</summary>
    StoredResponse? Get(string id);

    /// <summary>Deletes one response (the ones that followed it keep theirs); false when there was none (or it expired).</summary>
    bool Delete(string id);

    /// <summary>
    /// The response <paramref name="id"/> and those it followed, oldest first, read in one transaction; null when there is no
    /// response with this id. A response deleted (or expired) from the middle of a chain ends the chain there (its turns are gone).
    /// </summary>
    IReadOnlyList<StoredResponse>? Chain(string id);
}

/// <param name="Id"><c>resp_</c> and hex digits.</param>
/// <param name="PreviousId">The response it followed (<c>previous_response_id</c>), or null.</param>
/// <param name="Privacy">The level the request was routed at (the classifier's <c>PrivacyLevel</c> value): a chain's level is the highest of its responses'.</param>
/// <param name="Messages">This turn's input and output as a JSON array of chat messages (instructions excluded: they do not carry over).</param>
/// <param name="Response">The response object as JSON, as the client got it.</param>
/// <param name="InputItems">
/// This turn's input as a JSON array of Responses items with their ids (what <c>GET /v1/responses/{id}/input_items</c>
/// lists); null for a response stored before the store kept them (schema version 1).
/// </param>
public sealed record StoredResponse(string Id, string? PreviousId, DateTimeOffset CreatedAt, int Privacy, string Messages, string Response, string? InputItems = null);

/// <summary>How stored responses are kept. Immutable; validated when the store is registered.</summary>
public sealed record ResponseStoreOptions
{
    /// <summary>
    /// How long a stored response is kept after it was created (<c>--response-retention-days N</c>), as OpenAI keeps them.
    /// The default value is 30 days.
    /// </summary>
    public TimeSpan Retention { get; init; } = ResponseStoreDefaults.Retention;

    /// <summary>Returns null when valid, else a one-line message.</summary>
    public string? Validate() => Retention <= TimeSpan.Zero ? "The response retention must be positive." : null;
}

/// <summary>Names and defaults of the response store.</summary>
public static class ResponseStoreDefaults
{
    /// <summary>The module name of the migrations (table <c>responses</c>).</summary>
    public const string Module = "responses";

    /// <summary>How long a response is kept: 30 days, as OpenAI keeps stored responses.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(30);
}
