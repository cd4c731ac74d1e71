using System.Text.Json;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>Anthropic Messages response → OpenAI chat.completion, and the finish-reason and usage mappings shared with streams.</summary>
public static class AnthropicResponseTranslator
{
    /// <param name="response">The parsed upstream response.</param>
    /// <param name="id">The OpenAI id to answer with (e.g. <c>chatcmpl-…</c>).</param>
    /// <param name="created">Unix seconds, from the executor's <see cref="TimeProvider"/>.</param>
    /// <param name="fallbackModel">The model requested upstream, used when the response names none.</param>
    public static AnthropicResult<ChatCompletionResponse> Translate(AnthropicMessagesResponse response, string id, long created, string fallbackModel)
    {
        if (response.Content is null)
        {
            return AnthropicErrorMapping.Malformed("the response has no content");
        }

        var text = string.Concat(response.Content.Where(b => b.Type == AnthropicContentBlock.TextType).Select(b => b.Text));
        List<ChatToolCall>? toolCalls = null;
        foreach (var block in response.Content.Where(b => b.Type == AnthropicContentBlock.ToolUseType))
        {
            if (block is not { Id.Length: > 0, Name.Length: > 0 })
            {
                return AnthropicErrorMapping.Malformed("a tool_use block without an id or a name");
            }

            if (block.Input is { } input && input.ValueKind != JsonValueKind.Object)
            {
                return AnthropicErrorMapping.Malformed("a tool_use block whose input is not an object");
            }

            (toolCalls ??= []).Add(new ChatToolCall(null, block.Id, FunctionType, new ChatFunctionCall(block.Name, Arguments(block.Input))));
        }

        // As OpenAI: content is null when the model only called tools.
        var message = new AssistantMessage(text.Length == 0 && toolCalls is not null ? null : text, toolCalls);
        return new ChatCompletionResponse(
            id,
            created,
            response.Model ?? fallbackModel,
            [new ChatChoice(0, message, FinishReason(response.StopReason))],
            MapUsage(response.Usage, null));
    }

    /// <summary>The <c>type</c> of every OpenAI tool call the translation produces.</summary>
    public const string FunctionType = "function";

    /// <summary>A tool_use block's input as OpenAI's arguments string: the JSON as the upstream wrote it, <c>{}</c> when there is none.</summary>
    public static string Arguments(JsonElement? input) => input is { ValueKind: JsonValueKind.Object } value ? value.GetRawText() : "{}";

    /// <summary>
    /// end_turn, stop_sequence, pause_turn and unknown/missing → stop; max_tokens and
    /// model_context_window_exceeded → length; tool_use → tool_calls; refusal → content_filter.
    /// </summary>
    public static string FinishReason(string? stopReason) => stopReason switch
    {
        "max_tokens" or "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    };

    /// <summary>
    /// prompt_tokens = input_tokens + cache creation + cache read tokens (Anthropic counts cached input
    /// separately; OpenAI's prompt_tokens includes it); completion_tokens = output_tokens.
    /// </summary>
    /// <param name="usage">The response's (or message_start's) usage.</param>
    /// <param name="outputTokens">A later, cumulative output count (message_delta), which wins when set.</param>
    public static Usage MapUsage(AnthropicUsage? usage, int? outputTokens)
    {
        var prompt = (usage?.InputTokens ?? 0) + (usage?.CacheCreationInputTokens ?? 0) + (usage?.CacheReadInputTokens ?? 0);
        return Usage.Of(prompt, outputTokens ?? usage?.OutputTokens ?? 0);
    }
}
