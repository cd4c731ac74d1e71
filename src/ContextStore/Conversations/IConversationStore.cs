namespace InferenceMesh.ContextStore.Conversations;

/// <summary>
/// Conversation history on this machine. Thread-safe; every write is one <c>BEGIN IMMEDIATE</c> transaction, so a
/// write that returned is durable. Holds prompt and answer text: never log what it returns.
/// </summary>
/// <remarks>
/// Privacy levels are stored as the classifier's <c>PrivacyLevel</c> values (0 public, 1 internal, 2 confidential,
/// 3 restricted). A conversation's level only rises: it is the highest level any of its items was routed or classified
/// at, and deleting items does not lower it.
/// </remarks>
public interface IConversationStore
{
    /// <summary>A new conversation with <paramref name="items"/> (may be empty) at level <paramref name="privacy"/>.</summary>
    Conversation Create(IReadOnlyDictionary<string, string> metadata, IReadOnlyList<NewConversationItem> items, int privacy);

    /// <summary>The conversation, or null when there is none with this id.</summary>
    Conversation? Get(string id);

    /// <summary>Conversations by creation order; <paramref name="page"/>'s <c>After</c> is a conversation id.</summary>
    Page<Conversation> List(PageRequest page);

    /// <summary>Replaces the metadata; null when there is no such conversation.</summary>
    Conversation? UpdateMetadata(string id, IReadOnlyDictionary<string, string> metadata);

    /// <summary>Deletes the conversation and all its items; false when there was none.</summary>
    bool Delete(string id);

    /// <summary>
    /// Appends <paramref name="items"/> in order and raises the conversation's level to <paramref name="privacy"/>
    /// (never lowers it), in one transaction; null when there is no such conversation.
    /// </summary>
    IReadOnlyList<ConversationItem>? AddItems(string conversationId, IReadOnlyList<NewConversationItem> items, int privacy);

    /// <summary>A page of the conversation's items; <paramref name="page"/>'s <c>After</c> is an item id.</summary>
    Page<ConversationItem> ListItems(string conversationId, PageRequest page);

    /// <summary>Every item of the conversation, oldest first (the history a chat request is given); null when there is no such conversation.</summary>
    ConversationHistory? History(string conversationId);

    ConversationItem? GetItem(string conversationId, string itemId);

    /// <summary>Deletes one item; false when the conversation has no such item. The conversation's level stays.</summary>
    bool DeleteItem(string conversationId, string itemId);

    /// <summary>Deletes items older than the retention and conversations idle for longer (nothing when the retention is null).</summary>
    PurgeResult PurgeExpired();
}

/// <param name="Id"><c>conv_</c> and 32 hex digits.</param>
/// <param name="Privacy">The highest level any item was routed or classified at (see <see cref="IConversationStore"/>).</param>
/// <param name="UpdatedAt">The last item added or metadata change: retention counts from here.</param>
public sealed record Conversation(string Id, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, IReadOnlyDictionary<string, string> Metadata, int Privacy);

/// <param name="Id"><c>msg_</c> and 32 hex digits.</param>
/// <param name="Role">user, assistant, system or developer; assistant for a function_call, tool for a function_call_output.</param>
/// <param name="Content">A message's text, a function_call's arguments (JSON text) or a function_call_output's output.</param>
/// <param name="Backend">The backend that answered (assistant items written by a chat request); null otherwise.</param>
/// <param name="Privacy">The level the item was routed or classified at.</param>
/// <param name="Type">One of <see cref="ConversationItemTypes"/>.</param>
/// <param name="CallId">The tool call's id (function_call and function_call_output items); null for a message.</param>
/// <param name="Name">The called function's name (function_call items); null otherwise.</param>
public sealed record ConversationItem(
    string Id, string ConversationId, string Role, string Content, DateTimeOffset CreatedAt, string? Backend, int Privacy,
    string Type = ConversationItemTypes.Message, string? CallId = null, string? Name = null);

/// <summary>An item to add (see <see cref="ConversationItem"/> for the fields).</summary>
public sealed record NewConversationItem(
    string Role, string Content, string? Backend = null, string Type = ConversationItemTypes.Message, string? CallId = null, string? Name = null)
{
    /// <summary>An assistant's call of a tool.</summary>
    public static NewConversationItem FunctionCall(string callId, string name, string arguments, string? backend = null) =>
        new("assistant", arguments, backend, ConversationItemTypes.FunctionCall, callId, name);

    /// <summary>A tool's answer to the call <paramref name="callId"/>.</summary>
    public static NewConversationItem FunctionCallOutput(string callId, string output) =>
        new("tool", output, null, ConversationItemTypes.FunctionCallOutput, callId);
}

/// <summary>The item types, as OpenAI's Conversations API names them.</summary>
public static class ConversationItemTypes
{
    public const string Message = "message";
    public const string FunctionCall = "function_call";
    public const string FunctionCallOutput = "function_call_output";
}

/// <summary>A conversation's items with its level, read in one transaction.</summary>
public sealed record ConversationHistory(Conversation Conversation, IReadOnlyList<ConversationItem> Items);

public enum ListOrder
{
    Ascending,
    Descending,
}

/// <summary>One page's bounds, like OpenAI's list endpoints: at most <paramref name="Limit"/> entries after the entry <paramref name="After"/>.</summary>
public sealed record PageRequest(int Limit = ConversationDefaults.DefaultPageSize, ListOrder Order = ListOrder.Descending, string? After = null);

public enum PageStatus
{
    Ok,

    /// <summary>The conversation does not exist.</summary>
    NotFound,

    /// <summary>The <c>after</c> cursor names no entry of this list.</summary>
    UnknownCursor,
}

/// <summary>A page; <see cref="Status"/> says whether there is one.</summary>
public sealed record Page<T>(PageStatus Status, IReadOnlyList<T> Data, bool HasMore)
{
    public static Page<T> Failed(PageStatus status) => new(status, [], false);
}

public readonly record struct PurgeResult(int Items, int Conversations);
