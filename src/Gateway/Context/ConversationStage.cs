using System.Text.Json;
using InferenceMesh.Classifier;
using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Context;

/// <summary>
/// A chat request that names a conversation (<c>"conversation": "conv_…"</c> or <c>{"id": "conv_…"}</c>) gets the
/// stored history put before its own messages (after its leading system messages), whatever backend then answers;
/// the history is classified with the new message, and the request's privacy floor is raised to the conversation's
/// stored level, so a conversation that once held a confidential message never goes to a backend below that level.
/// Unless the request says <c>"store": false</c>, the turn (the request's own non-system messages, then the answer)
/// is appended once the whole answer was written, in one transaction, at the level the request was routed at, which
/// also raises the conversation's level. A client that leaves mid-answer, or an answer that fails, stores nothing.
/// <c>"store"</c> without a conversation stores nothing. Both fields are removed from the body a remote backend receives.
/// </summary>
internal sealed partial class ConversationStage(IConversationStore store, ConversationStoreOptions options, ILogger<ConversationStage> logger) : IChatContextStage
{
    public const string ConversationField = "conversation";
    public const string StoreField = "store";

    public bool AppliesTo(ChatCompletionRequest request) =>
        request.Extensions is { } fields && (fields.ContainsKey(ConversationField) || fields.ContainsKey(StoreField));

    public ValueTask<ApiError?> PrepareAsync(ChatContextFrame frame, CancellationToken cancellationToken)
    {
        // Both are taken (so removed from a forwarded body) whether or not they are used.
        var conversationField = frame.TakeExtension(ConversationField);
        var storeField = frame.TakeExtension(StoreField);
        return ValueTask.FromResult(Prepare(frame, conversationField, storeField));
    }

    private ApiError? Prepare(ChatContextFrame frame, JsonElement? conversationField, JsonElement? storeField)
    {
        bool? storeTurn = null;
        if (storeField is { } storeValue && storeValue.ValueKind != JsonValueKind.Null)
        {
            if (storeValue.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return ApiErrors.InvalidParameter(StoreField, "'store' must be a boolean.");
            }

            storeTurn = storeValue.ValueKind == JsonValueKind.True;
        }

        if (conversationField is not { } field || field.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (ConversationId(field) is not { } id)
        {
            return ApiErrors.InvalidParameter(ConversationField,
                "'conversation' must be a conversation id ('conv_' followed by 32 lowercase hex digits) or an object {\"id\": \"conv_…\"}.");
        }

        if (!options.Enabled)
        {
            return ConversationsApi.HistoryDisabled(ConversationField);
        }

        if (store.History(id) is not { } history)
        {
            return ConversationsApi.NotFound(id, ConversationField);
        }

        frame.RaisePrivacyFloor((PrivacyLevel)Math.Clamp(history.Conversation.Privacy, (int)PrivacyLevel.Public, (int)PrivacyLevel.Restricted));

        // The turn to store: the request's own messages, before the history goes in (system messages are per request).
        var turn = frame.Messages.Where(m => m.Role != "system").Select(m => new NewConversationItem(m.Role, m.Content)).ToList();
        var leadingSystem = frame.Messages.TakeWhile(m => m.Role == "system").Count();
        frame.InsertMessages(leadingSystem, [.. history.Items.Select(i => new ChatMessage(i.Role == "developer" ? "system" : i.Role, i.Content))]);
        Log.HistoryAdded(logger, history.Items.Count);

        if (storeTurn ?? true)
        {
            frame.OnAnswer((answer, _) =>
            {
                var items = new List<NewConversationItem>(turn) { new("assistant", answer.Content, answer.Backend) };
                if (store.AddItems(id, items, (int)answer.Privacy) is null)
                {
                    Log.ConversationGone(logger);
                }
                else
                {
                    Log.TurnStored(logger, items.Count, answer.Backend, answer.Privacy);
                }

                return ValueTask.CompletedTask;
            });
        }

        return null;
    }

    /// <summary>A string id, or OpenAI Responses' object form <c>{"id": …}</c>; null when malformed.</summary>
    private static string? ConversationId(JsonElement field)
    {
        var id = field.ValueKind switch
        {
            JsonValueKind.String => field.GetString(),
            JsonValueKind.Object when field.TryGetProperty("id", out var inner) && inner.ValueKind == JsonValueKind.String => inner.GetString(),
            _ => null,
        };
        return ConversationDefaults.IsConversationId(id) ? id : null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2210, Level = LogLevel.Debug, Message = "Conversation history of {Items} item(s) put before the request")]
        public static partial void HistoryAdded(ILogger logger, int items);

        [LoggerMessage(EventId = 2211, Level = LogLevel.Debug, Message = "Conversation turn of {Items} item(s) stored (answered by {Backend}, routed at {Privacy})")]
        public static partial void TurnStored(ILogger logger, int items, string backend, PrivacyLevel privacy);

        [LoggerMessage(EventId = 2212, Level = LogLevel.Information, Message = "The conversation was deleted before the answer completed; the turn was not stored")]
        public static partial void ConversationGone(ILogger logger);
    }
}
