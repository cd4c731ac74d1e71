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
        var turn = TurnItems(frame.Messages, frame.Request.Messages);
        var leadingSystem = frame.Messages.TakeWhile(m => m.Role == "system").Count();
        frame.InsertMessages(leadingSystem, HistoryMessages(history.Items, AnsweredFirst(turn)));
        Log.HistoryAdded(logger, history.Items.Count);

        if (storeTurn ?? true)
        {
            frame.OnAnswer((answer, _) =>
            {
                var items = new List<NewConversationItem>(turn);
                if (answer.Content.Length > 0 || answer.ToolCalls.Count == 0)
                {
                    items.Add(new("assistant", answer.Content, answer.Backend));
                }

                items.AddRange(answer.ToolCalls.Select(c => NewConversationItem.FunctionCall(c.Id, c.Name, c.Arguments, answer.Backend)));
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

    /// <summary>
    /// The request's own non-system messages as items: a tool message is a function_call_output, an assistant message's
    /// tool_calls are function_call items after its text (a message item only when it has text). The typed messages are
    /// the engine's one for one (every stage inserts into both); when they are not, only the text is kept.
    /// </summary>
    private static List<NewConversationItem> TurnItems(IReadOnlyList<ChatMessage> messages, List<ChatMessageWire?>? wire)
    {
        var items = new List<NewConversationItem>();
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            var typed = wire is not null && wire.Count == messages.Count ? wire[i] : null;
            if (message.Role == "system")
            {
                continue;
            }

            if (message.Role == "tool" && typed?.ToolCallId is { ValueKind: JsonValueKind.String } callId)
            {
                items.Add(NewConversationItem.FunctionCallOutput(callId.GetString()!, message.Content));
                continue;
            }

            var calls = new ToolCallAssembly();
            if (message.Role == "assistant" && typed?.ToolCalls is { } toolCalls)
            {
                calls.Add(toolCalls);
            }

            if (message.Content.Length > 0 || calls.Calls.Count == 0)
            {
                items.Add(new NewConversationItem(message.Role, message.Content));
            }

            items.AddRange(calls.Calls.Select(c => NewConversationItem.FunctionCall(c.Id, c.Name, c.Arguments)));
        }

        return items;
    }

    /// <summary>The call ids the request's tool messages answer before anything else it says (its turn's leading outputs).</summary>
    private static HashSet<string> AnsweredFirst(List<NewConversationItem> turn) =>
        [.. turn.TakeWhile(i => i.Type == ConversationItemTypes.FunctionCallOutput).Select(i => i.CallId!)];

    /// <summary>
    /// The stored items as chat messages, in order: function_call items join the assistant message right before them (or
    /// make one with no text) as its tool_calls; a function_call_output is a tool message with its tool_call_id. Then
    /// only answered calls are kept (see <see cref="KeepAnsweredCalls"/>).
    /// </summary>
    private static List<ContextMessage> HistoryMessages(IReadOnlyList<ConversationItem> items, HashSet<string> answeredByRequest)
    {
        var messages = new List<ContextMessage>(items.Count);
        var assistantOpen = false; // the last message is an assistant's that later calls may join
        foreach (var item in items)
        {
            switch (item.Type)
            {
                case ConversationItemTypes.FunctionCall:
                    var call = new AnsweredToolCall(item.CallId ?? string.Empty, item.Name ?? string.Empty, item.Content);
                    if (assistantOpen)
                    {
                        var last = messages[^1];
                        messages[^1] = last with { ToolCalls = [.. last.ToolCalls ?? [], call] };
                    }
                    else
                    {
                        messages.Add(new ContextMessage("assistant", string.Empty, [call]));
                        assistantOpen = true;
                    }

                    break;
                case ConversationItemTypes.FunctionCallOutput:
                    messages.Add(new ContextMessage("tool", item.Content, ToolCallId: item.CallId));
                    assistantOpen = false;
                    break;
                default:
                    messages.Add(new ContextMessage(item.Role == "developer" ? "system" : item.Role, item.Content));
                    assistantOpen = item.Role == "assistant";
                    break;
            }
        }

        return KeepAnsweredCalls(messages, answeredByRequest);
    }

    /// <summary>
    /// OpenAI and Anthropic refuse (400) an assistant message's tool call not answered by a tool message right after it,
    /// and a tool message that answers no call right before it. A client that moved on without answering a call left
    /// such a call in the history, and every later turn of the conversation failed upstream. So a call is kept only when
    /// the tool messages right after its assistant message answer it, or, for the history's last calls, when the
    /// request's own leading tool messages do (the usual next turn: only the results); an output is kept only with its
    /// call; an assistant message left with neither text nor calls goes too.
    /// </summary>
    private static List<ContextMessage> KeepAnsweredCalls(List<ContextMessage> messages, HashSet<string> answeredByRequest)
    {
        var kept = new List<ContextMessage>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role == "tool")
            {
                continue; // an output with no call right before it (one with its call is taken with the call below)
            }

            if (message.ToolCalls is not { Count: > 0 } calls)
            {
                kept.Add(message);
                continue;
            }

            var end = i + 1;
            while (end < messages.Count && messages[end].Role == "tool")
            {
                end++;
            }

            var outputs = messages.Skip(i + 1).Take(end - i - 1).ToList();
            var answered = outputs.Select(o => o.ToolCallId ?? string.Empty).ToHashSet(StringComparer.Ordinal);
            if (end == messages.Count)
            {
                answered.UnionWith(answeredByRequest); // the request's results follow these calls directly
            }

            var answeredCalls = calls.Where(c => answered.Contains(c.Id)).ToList();
            if (answeredCalls.Count > 0 || message.Content.Length > 0)
            {
                kept.Add(message with { ToolCalls = answeredCalls.Count > 0 ? answeredCalls : null });
            }

            var callIds = answeredCalls.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
            kept.AddRange(outputs.Where(o => o.ToolCallId is { } id && callIds.Remove(id)));
            i = end - 1;
        }

        return kept;
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
