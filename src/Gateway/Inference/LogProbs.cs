using System.Text;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Inference;

/// <summary>
/// OpenAI's log-probability fields on the local engine: what a request asks for (chat: <c>logprobs</c> true with
/// <c>top_logprobs</c> 0..20; legacy completions: <c>logprobs</c> 0..5, with <c>echo</c> the prompt scored too) and the engine's
/// <see cref="TokenLogProb"/> entries in each endpoint's wire shape.
/// </summary>
public static class LogProbs
{
    public const int MaxCompletionLogprobs = 5;

    /// <summary>The number of alternatives a chat request asks for, null for no log probabilities, or an error naming the field.</summary>
    public static ApiResult<int?> Requested(ChatCompletionRequest request)
    {
        var fields = request.Extensions;
        JsonElement logprobs = default, top = default;
        var asked = fields is not null && fields.TryGetValue("logprobs", out logprobs) && logprobs.ValueKind != JsonValueKind.Null;
        if (asked && logprobs.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            return ApiErrors.InvalidParameter("logprobs", "'logprobs' must be a boolean.");
        }

        int? count = null;
        if (fields is not null && fields.TryGetValue("top_logprobs", out top) && top.ValueKind != JsonValueKind.Null)
        {
            if (top.ValueKind != JsonValueKind.Number || !top.TryGetInt32(out var value) || value is < 0 or > GenerationRequest.MaxTopLogProbs)
            {
                return ApiErrors.InvalidParameter("top_logprobs", $"'top_logprobs' must be an integer from 0 to {GenerationRequest.MaxTopLogProbs}.");
            }

            count = value;
        }

        var enabled = asked && logprobs.ValueKind == JsonValueKind.True;
        if (!enabled && count is > 0)
        {
            return ApiErrors.InvalidParameter("top_logprobs", "'top_logprobs' needs 'logprobs' set to true.");
        }

        return new ApiResult<int?>(enabled ? count ?? 0 : null, null);
    }

    /// <summary>
    /// The number of alternatives a Responses request asks for (<c>top_logprobs</c> 0..20), or null when its <c>include</c>
    /// does not name <c>message.output_text.logprobs</c> (without it OpenAI returns none, whatever <c>top_logprobs</c> says).
    /// </summary>
    public static ApiResult<int?> Requested(ResponseRequest request)
    {
        var fields = request.Extensions;
        int? count = null;
        if (fields is not null && fields.TryGetValue("top_logprobs", out var top) && top.ValueKind != JsonValueKind.Null)
        {
            if (top.ValueKind != JsonValueKind.Number || !top.TryGetInt32(out var value) || value is < 0 or > GenerationRequest.MaxTopLogProbs)
            {
                return ApiErrors.InvalidParameter("top_logprobs", $"'top_logprobs' must be an integer from 0 to {GenerationRequest.MaxTopLogProbs}.");
            }

            count = value;
        }

        var enabled = fields is not null && fields.TryGetValue("include", out var include) && include.ValueKind == JsonValueKind.Array
            && include.EnumerateArray().Any(i => i.ValueKind == JsonValueKind.String && i.GetString() == ResponseLogProbsInclude);
        return new ApiResult<int?>(enabled ? count ?? 0 : null, null);
    }

    /// <summary>The <c>include</c> value that asks a Responses request for log probabilities.</summary>
    public const string ResponseLogProbsInclude = "message.output_text.logprobs";

    /// <summary>The number of alternatives a legacy completion asks for (its <c>logprobs</c>), or an error naming the field.</summary>
    public static ApiResult<int?> Requested(CompletionRequest request)
    {
        if (request.Logprobs is not { } count)
        {
            return new ApiResult<int?>(null, null);
        }

        if (count is < 0 or > MaxCompletionLogprobs)
        {
            return ApiErrors.InvalidParameter("logprobs", $"'logprobs' must be an integer from 0 to {MaxCompletionLogprobs}.");
        }

        return count;
    }

    /// <summary>Chat's shape, or null when none were asked for.</summary>
    public static ChatLogProbs? ForChat(IReadOnlyList<TokenLogProb>? entries)
    {
        if (entries is null)
        {
            return null;
        }

        var content = new ChatTokenLogProb[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            var top = new ChatTopLogProb[entry.Top.Count];
            for (var j = 0; j < top.Length; j++)
            {
                var candidate = entry.Top[j];
                top[j] = new ChatTopLogProb(Text(candidate), candidate.LogProb, Bytes(candidate));
            }

            content[i] = new ChatTokenLogProb(Text(entry.Chosen), entry.Chosen.LogProb, Bytes(entry.Chosen), top);
        }

        return new ChatLogProbs(content);
    }

    /// <summary>
    /// The legacy completion shape, or null when none were asked for: the scored prompt first when there is one (echo),
    /// then the generated tokens, whose offsets start at <paramref name="textStart"/> (the echoed prompt's length).
    /// </summary>
    public static CompletionLogProbs? ForCompletion(IReadOnlyList<TokenLogProb>? entries, int textStart = 0, PromptLogProbs? prompt = null, string? promptText = null)
    {
        if (entries is null && prompt is null)
        {
            return null;
        }

        var tokens = new List<string>();
        var logprobs = new List<float?>();
        var tops = new List<Dictionary<string, float>?>();
        var offsets = new List<int>();
        if (prompt is not null)
        {
            AddPrompt(prompt, promptText ?? string.Empty, tokens, logprobs, tops, offsets);
        }

        foreach (var entry in entries ?? [])
        {
            tokens.Add(Text(entry.Chosen));
            logprobs.Add(entry.Chosen.LogProb);
            tops.Add(Top(entry));
            offsets.Add(textStart + entry.TextOffset);
        }

        return new CompletionLogProbs(tokens, logprobs, tops, offsets);
    }

    /// <summary>
    /// The prompt's tokens, whose texts add up to the echoed prompt and whose offsets are where each starts in it. A
    /// tokenizer that puts a space before the first word (SentencePiece: "Once" is the token "▁Once") makes the texts
    /// one longer than the prompt: that space is left out of the first token's text ("Once", as OpenAI writes a prompt's
    /// first token and llama.cpp's detokeniser writes the text), so the echoed text and its tokens agree.
    /// </summary>
    private static void AddPrompt(PromptLogProbs prompt, string promptText, List<string> tokens, List<float?> logprobs, List<Dictionary<string, float>?> tops, List<int> offsets)
    {
        var texts = new List<string> { Text(prompt.First) };
        logprobs.Add(null);
        var promptTops = new List<Dictionary<string, float>?> { null };
        foreach (var entry in prompt.Rest)
        {
            texts.Add(Text(entry.Chosen));
            logprobs.Add(entry.Chosen.LogProb);
            promptTops.Add(Top(entry));
        }

        var joined = string.Concat(texts);
        var extra = joined.Length > promptText.Length && joined.EndsWith(promptText, StringComparison.Ordinal) ? joined.Length - promptText.Length : 0;
        var offset = 0;
        for (var i = 0; i < texts.Count; i++)
        {
            var text = texts[i];
            var cut = Math.Min(extra, text.Length);
            extra -= cut;
            tokens.Add(text[cut..]);
            offsets.Add(offset);
            offset += text.Length - cut;

            // The alternatives at that step would have been the first word too: written the same way.
            tops.Add(cut > 0 && promptTops[i] is { } top ? WithoutPrefix(top, text[..cut]) : promptTops[i]);
        }
    }

    private static Dictionary<string, float> WithoutPrefix(Dictionary<string, float> top, string prefix)
    {
        var result = new Dictionary<string, float>(top.Count, StringComparer.Ordinal);
        foreach (var (text, logProb) in top.OrderByDescending(pair => pair.Value))
        {
            result.TryAdd(text.StartsWith(prefix, StringComparison.Ordinal) ? text[prefix.Length..] : text, logProb);
        }

        return result;
    }

    private static Dictionary<string, float> Top(TokenLogProb entry)
    {
        var top = new Dictionary<string, float>(entry.Top.Count, StringComparer.Ordinal);
        foreach (var candidate in entry.Top)
        {
            // Two tokens can read the same (byte tokens of a broken character both show U+FFFD): the likelier one stays.
            top.TryAdd(Text(candidate), candidate.LogProb);
        }

        return top;
    }

    private static string Text(TokenCandidate candidate) => Encoding.UTF8.GetString(candidate.Bytes);

    private static int[] Bytes(TokenCandidate candidate) => Array.ConvertAll(candidate.Bytes, b => (int)b);
}
