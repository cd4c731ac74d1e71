namespace InferenceMesh.ContextStore.Conversations;

/// <summary>How conversation history is kept. Immutable; validated when the store is registered.</summary>
public sealed record ConversationStoreOptions
{
    /// <summary>
    /// Whether history is stored at all (<c>--no-history</c> turns it off: nothing is written, and a request naming a
    /// conversation is refused). The default value is true.
    /// </summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// How long items and idle conversations are kept (<c>--history-retention-days N</c>); null keeps them until deleted.
    /// The default value is null.
    /// </summary>
    public TimeSpan? Retention { get; init; }

    /// <summary>
    /// How often expired history, and the records of every module with an expiry (stored responses), are purged while
    /// running (they are also purged at start). The default value is 1 hour.
    /// </summary>
    public TimeSpan PurgeInterval { get; init; } = ConversationDefaults.PurgeInterval;

    /// <summary>Returns null when valid, else a one-line message.</summary>
    public string? Validate()
    {
        if (Retention is { } retention && retention <= TimeSpan.Zero)
        {
            return "The history retention must be positive.";
        }

        return PurgeInterval <= TimeSpan.Zero ? "The purge interval must be positive." : null;
    }
}

/// <summary>Every default and limit of the conversation store, in one place.</summary>
public static class ConversationDefaults
{
    /// <summary>The module name of the migrations (tables are prefixed <c>conversations</c>).</summary>
    public const string Module = "conversations";

    public const string ConversationIdPrefix = "conv_";

    public const string ItemIdPrefix = "msg_";

    /// <summary>Items per page when the caller names no limit (as OpenAI).</summary>
    public const int DefaultPageSize = 20;

    /// <summary>Largest page (as OpenAI).</summary>
    public const int MaxPageSize = 100;

    /// <summary>Most items added in one call (as OpenAI).</summary>
    public const int MaxItemsPerCall = 20;

    /// <summary>Most metadata pairs, longest key and value (as OpenAI).</summary>
    public const int MaxMetadataPairs = 16;

    public const int MaxMetadataKeyLength = 64;

    public const int MaxMetadataValueLength = 512;

    public static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    /// <summary>True for a conversation id of the shape the store hands out (<c>conv_</c> and 32 lowercase hex digits).</summary>
    public static bool IsConversationId(string? id) => IsId(id, ConversationIdPrefix);

    /// <summary>True for an item id of the shape the store hands out (<c>msg_</c> and 32 lowercase hex digits).</summary>
    public static bool IsItemId(string? id) => IsId(id, ItemIdPrefix);

    private static bool IsId(string? id, string prefix) =>
        id is not null && id.Length == prefix.Length + 32 && id.StartsWith(prefix, StringComparison.Ordinal)
        && !id.AsSpan(prefix.Length).ContainsAnyExcept("0123456789abcdef");
}
