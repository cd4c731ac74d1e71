using System.Text.Json;
using InferenceMesh.Gateway.Errors;

namespace InferenceMesh.Gateway.Inference;

/// <summary>One prompt of <c>/v1/completions</c> or one input of <c>/v1/embeddings</c>: text, or the served model's own token ids.</summary>
/// <param name="Param">Where it is in the request (<c>prompt</c>, <c>prompt[2]</c>, <c>input[0]</c>): errors about it name this.</param>
/// <param name="Text">The text, or null for a token prompt.</param>
/// <param name="Tokens">The token ids (used as given, no BOS added), or null for a text prompt.</param>
public sealed record PromptInput(string Param, string? Text, IReadOnlyList<int>? Tokens);

/// <summary>
/// The four shapes OpenAI accepts for completions' <c>prompt</c> and embeddings' <c>input</c>: a string, an array of
/// strings (a batch), an array of token ids (one prompt) and an array of token-id arrays (a batch). A batch may mix
/// strings and token arrays, as llama-server accepts. Empty strings and empty arrays are refused: they would score or
/// embed the BOS token alone.
/// </summary>
public static class PromptList
{
    /// <summary>
    /// Reads <paramref name="value"/> (the request's <paramref name="field"/>) into its prompts, each named by where it
    /// is: the field itself for a single prompt, <c>field[i]</c> in a batch of at most <paramref name="maxItems"/>.
    /// </summary>
    public static ApiResult<IReadOnlyList<PromptInput>> Parse(JsonElement? value, string field, int maxItems)
    {
        if (value is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return ApiErrors.MissingParameter(field);
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            return One(Text(element, field));
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            return ApiErrors.InvalidParameter(field, $"'{field}' must be a string, an array of strings, an array of token ids or an array of token-id arrays.");
        }

        var count = element.GetArrayLength();
        if (count == 0)
        {
            return ApiErrors.InvalidParameter(field, $"'{field}' must not be an empty array.");
        }

        if (element[0].ValueKind == JsonValueKind.Number)
        {
            return One(Tokens(element, field));
        }

        if (count > maxItems)
        {
            return ApiErrors.InvalidParameter(field, $"'{field}' accepts at most {maxItems} items in one request.");
        }

        var inputs = new List<PromptInput>(count);
        var index = 0;
        foreach (var item in element.EnumerateArray())
        {
            var param = $"{field}[{index++}]";
            var input = item.ValueKind switch
            {
                JsonValueKind.String => Text(item, param),
                JsonValueKind.Array => Tokens(item, param),
                _ => ApiErrors.InvalidParameter(param, $"Each item of '{field}' must be a string or an array of token ids."),
            };
            if (input.Error is { } error)
            {
                return error;
            }

            inputs.Add(input.Value!);
        }

        return inputs;
    }

    /// <summary>The first token id outside the model's vocabulary as a 400 naming it (<c>prompt[3]</c>, <c>prompt[1][3]</c>), or null.</summary>
    public static ApiError? CheckVocabulary(IReadOnlyList<PromptInput> inputs, int vocabularySize)
    {
        foreach (var input in inputs)
        {
            var tokens = input.Tokens ?? [];
            for (var i = 0; i < tokens.Count; i++)
            {
                if (OutOfVocabulary(tokens[i], $"{input.Param}[{i}]", vocabularySize) is { } error)
                {
                    return error;
                }
            }
        }

        return null;
    }

    /// <summary>A 400 naming <paramref name="param"/> when <paramref name="token"/> is not below the vocabulary's size, else null.</summary>
    public static ApiError? OutOfVocabulary(int token, string param, int vocabularySize) =>
        token < vocabularySize
            ? null
            : ApiErrors.InvalidParameter(param, $"'{param}' is not a token id of this model: its vocabulary has ids 0 to {vocabularySize - 1}.");

    private static ApiResult<IReadOnlyList<PromptInput>> One(ApiResult<PromptInput> input) =>
        input.Error is { } error ? error : new ApiResult<IReadOnlyList<PromptInput>>([input.Value!], null);

    private static ApiResult<PromptInput> Text(JsonElement item, string param) =>
        item.GetString() is { Length: > 0 } text
            ? new PromptInput(param, text, null)
            : ApiErrors.InvalidParameter(param, $"'{param}' must not be an empty string.");

    private static ApiResult<PromptInput> Tokens(JsonElement item, string param)
    {
        if (item.GetArrayLength() == 0)
        {
            return ApiErrors.InvalidParameter(param, $"'{param}' must not be an empty array of token ids.");
        }

        var tokens = TokenIds(item, param);
        return tokens.Error is { } error ? error : new PromptInput(param, null, tokens.Value!);
    }

    /// <summary>The ids of a JSON array (found at <paramref name="param"/>), each an integer from 0; else a 400 naming the first that is not (<c>param[i]</c>).</summary>
    public static ApiResult<int[]> TokenIds(JsonElement array, string param)
    {
        var tokens = new int[array.GetArrayLength()];
        var index = 0;
        foreach (var token in array.EnumerateArray())
        {
            var id = TokenId(token, $"{param}[{index}]");
            if (id.Error is { } error)
            {
                return error;
            }

            tokens[index++] = id.Value;
        }

        return tokens;
    }

    /// <summary>A 400 naming <paramref name="param"/> unless <paramref name="token"/> is an integer from 0 (a token id's shape; the vocabulary is checked apart).</summary>
    public static ApiResult<int> TokenId(JsonElement token, string param) =>
        token.ValueKind == JsonValueKind.Number && token.TryGetInt32(out var id) && id >= 0
            ? id
            : ApiErrors.InvalidParameter(param, $"'{param}' must be a token id (an integer from 0).");
}
