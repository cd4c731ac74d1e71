using System.Text.Json;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// OpenAI chat-completions request → Anthropic Messages request. Parameters are validated with the same
/// rules as the local path (<see cref="GenerationSettings.From"/>), then mapped:
/// <list type="bullet">
/// <item>system and developer messages → <c>system</c> (a string for one, text blocks for several);</item>
/// <item>consecutive messages of the same role → one turn (each message a text block);</item>
/// <item>a conversation starting with an assistant turn gets a leading user turn <see cref="AnthropicDefaults.LeadingUserPlaceholder"/>;</item>
/// <item>a final assistant turn (prefill) loses trailing whitespace, which Anthropic rejects;</item>
/// <item><c>temperature</c> above 1 (valid for OpenAI up to 2) is clamped to 1;</item>
/// <item><c>max_completion_tokens</c>, else <c>max_tokens</c>, else the configured default → <c>max_tokens</c>;</item>
/// <item><c>stop</c> → <c>stop_sequences</c>; <c>top_k</c> &gt; 0 passes through (0 = disabled is left out);</item>
/// <item>function <c>tools</c>, <c>tool_choice</c>, <c>parallel_tool_calls</c>, an assistant's <c>tool_calls</c> and tool
/// messages → tools, tool_choice, tool_use and tool_result blocks (<see cref="AnthropicToolTranslator"/>);</item>
/// <item>legacy function messages, non-text content parts (image_url, input_audio, file), and what the translation does not
/// carry yet (functions, logprobs, audio, a JSON <c>response_format</c>), and <c>n</c> above 1 (one answer per Messages
/// request) → 400 <c>unsupported_by_backend</c> (the next backend of the plan answers instead).</item>
/// </list>
/// Ignored (Anthropic has no equivalent): seed, presence/frequency/repeat penalties, logit_bias, min_p.
/// </summary>
public static class AnthropicRequestTranslator
{
    public const string UnsupportedCode = ApiErrors.UnsupportedByBackendCode;

    /// <param name="request">The client's request (already parsed).</param>
    /// <param name="upstreamModel">The model name to send (the executor resolves "auto" and aliases).</param>
    /// <param name="stream">Whether to ask for an event stream.</param>
    /// <param name="defaultMaxTokens">max_tokens when the client sets none.</param>
    public static ApiResult<AnthropicMessagesRequest> Translate(ChatCompletionRequest request, string upstreamModel, bool stream, int defaultMaxTokens = AnthropicDefaults.MaxTokens)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(upstreamModel);

        var settings = GenerationSettings.From(request, GenerationSettings.MaxChatChoices);
        if (settings.Error is { } settingsError)
        {
            return settingsError;
        }

        if (settings.Value!.Choices > 1)
        {
            return Unsupported("n", "'n' above 1 is not supported by the Anthropic backend: its API returns one answer per request.");
        }

        // The OpenAI fields this translation does not carry over yet (legacy functions, logprobs, audio, JSON output):
        // dropping them would answer another question (free text to a client waiting for a function call or for JSON).
        if (LocalFeatures.RefuseUnsupportedBesideTools(request) is { Param: var param })
        {
            return Unsupported(param ?? "request", $"'{param}' is not supported by the Anthropic backend yet.");
        }

        if (LogProbs.Requested(request).Value is not null)
        {
            return Unsupported("logprobs", "'logprobs' is not supported by the Anthropic backend: its API returns no log probabilities.");
        }

        if (LocalFeatures.ResponseGrammar(request).Value is not null)
        {
            return Unsupported("response_format", "JSON 'response_format' is not supported by the Anthropic backend yet.");
        }

        var tools = AnthropicToolTranslator.Translate(request.Extensions);
        if (tools.Error is { } toolsError)
        {
            return toolsError;
        }

        var messages = request.Messages;
        if (messages is null || messages.Count == 0)
        {
            return ApiErrors.InvalidParameter("messages", "'messages' must be a non-empty array.");
        }

        var system = new List<AnthropicContentBlock>();
        var turns = new List<(string Role, List<AnthropicContentBlock> Blocks)>();
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not { } message)
            {
                return ApiErrors.InvalidParameter($"messages[{i}]", "Each message must be an object with 'role' and 'content'.");
            }

            string? role = message.Role switch
            {
                "system" or "developer" => "system",
                "user" or "assistant" => message.Role,
                // A tool's answer is a tool_result block of a user turn.
                "tool" => "user",
                "function" => null,
                _ => string.Empty,
            };
            if (role is null)
            {
                return Unsupported($"messages[{i}].role", "Legacy function messages are not supported by the Anthropic backend; send tool messages.");
            }

            if (role.Length == 0)
            {
                return ApiErrors.InvalidParameter($"messages[{i}].role", "'role' must be one of system, developer, user, assistant, tool.");
            }

            var blocks = new List<AnthropicContentBlock>();
            if (AppendText(message.Content, $"messages[{i}].content", blocks) is { } contentError)
            {
                return contentError;
            }

            if (message.Role == "tool")
            {
                var id = AnthropicToolTranslator.ToolCallId(message, $"messages[{i}].tool_call_id");
                if (id.Error is { } idError)
                {
                    return idError;
                }

                var result = blocks.Count switch
                {
                    0 => null,
                    1 => AnthropicContent.FromText(blocks[0].Text!),
                    _ => AnthropicContent.FromBlocks(blocks),
                };
                blocks = [AnthropicContentBlock.OfToolResult(id.Value!, result)];
            }
            else if (message.Role == "assistant" && AnthropicToolTranslator.AppendToolUses(message.ToolCalls, $"messages[{i}].tool_calls", blocks) is { } callsError)
            {
                return callsError;
            }

            if (role == "system")
            {
                system.AddRange(blocks);
            }
            else if (blocks.Count == 0)
            {
                // Anthropic rejects empty text; an empty turn carries nothing, so it is left out (merging keeps roles alternating).
            }
            else if (turns.Count > 0 && turns[^1].Role == role)
            {
                // Consecutive tool results (and a user message after them) make one user turn, as Anthropic requires.
                turns[^1].Blocks.AddRange(blocks);
            }
            else
            {
                turns.Add((role, blocks));
            }
        }

        if (turns.Count > 0 && turns[^1].Role == "assistant" && turns[^1].Blocks[^1].Type == AnthropicContentBlock.TextType)
        {
            var last = turns[^1].Blocks;
            var trimmed = last[^1].Text!.TrimEnd();
            if (trimmed.Length == 0)
            {
                last.RemoveAt(last.Count - 1);
            }
            else
            {
                last[^1] = AnthropicContentBlock.OfText(trimmed);
            }

            if (last.Count == 0)
            {
                turns.RemoveAt(turns.Count - 1);
            }
        }

        if (turns.Count == 0)
        {
            return ApiErrors.InvalidParameter("messages", "'messages' must contain at least one user or assistant message with text.");
        }

        if (turns[0].Role != "user")
        {
            turns.Insert(0, ("user", [AnthropicContentBlock.OfText(AnthropicDefaults.LeadingUserPlaceholder)]));
        }

        var (declaredTools, toolChoice) = tools.Value;
        if (declaredTools is null && AnthropicToolTranslator.ForHistory(turns.SelectMany(t => t.Blocks)) is { } history)
        {
            (declaredTools, toolChoice) = history;
        }

        var p = settings.Value!;
        return new AnthropicMessagesRequest
        {
            Model = upstreamModel,
            MaxTokens = p.MaxTokens ?? defaultMaxTokens,
            System = system.Count switch
            {
                0 => null,
                1 => AnthropicContent.FromText(system[0].Text!),
                _ => AnthropicContent.FromBlocks(system),
            },
            Messages = [.. turns.Select(t => new AnthropicMessage(t.Role, Content(t.Blocks)))],
            Temperature = request.Temperature is { } t ? Math.Min(t, AnthropicDefaults.MaxTemperature) : null,
            TopP = request.TopP,
            TopK = request.TopK is > 0 ? request.TopK : null,
            StopSequences = p.Stop.Count > 0 ? p.Stop : null,
            Stream = stream ? true : null,
            Tools = declaredTools,
            ToolChoice = toolChoice,
        };
    }

    /// <summary>
    /// One text block as a plain string; otherwise the blocks, tool_result blocks first (Anthropic requires them before any
    /// text of their turn, e.g. a user message sent right after the tool results).
    /// </summary>
    private static AnthropicContent Content(List<AnthropicContentBlock> blocks) => blocks is [{ Type: AnthropicContentBlock.TextType, Text: { } text }]
        ? AnthropicContent.FromText(text)
        : AnthropicContent.FromBlocks([.. blocks.Where(IsToolResult), .. blocks.Where(b => !IsToolResult(b))]);

    private static bool IsToolResult(AnthropicContentBlock block) => block.Type == AnthropicContentBlock.ToolResultType;

    /// <summary>Appends the non-empty text of a string / null / array-of-parts content as text blocks.</summary>
    private static ApiError? AppendText(JsonElement? content, string param, List<AnthropicContentBlock> blocks)
    {
        if (content is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            if (element.GetString() is { Length: > 0 } text)
            {
                blocks.Add(AnthropicContentBlock.OfText(text));
            }

            return null;
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            return ApiErrors.InvalidParameter(param, "'content' must be a string or an array of content parts.");
        }

        var j = 0;
        foreach (var part in element.EnumerateArray())
        {
            var type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            switch (type)
            {
                case "text" when part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String:
                    if (text.GetString() is { Length: > 0 } value)
                    {
                        blocks.Add(AnthropicContentBlock.OfText(value));
                    }

                    break;
                case "image_url" or "input_audio" or "file":
                    return Unsupported($"{param}[{j}]", $"'{type}' content parts are not supported by the Anthropic backend yet; send text parts only.");
                default:
                    return ApiErrors.InvalidParameter($"{param}[{j}]", "Each content part must be {\"type\":\"text\",\"text\":\"...\"}.");
            }

            j++;
        }

        return null;
    }

    internal static ApiError Unsupported(string param, string message) => ApiErrors.UnsupportedByBackend(param, message);
}
