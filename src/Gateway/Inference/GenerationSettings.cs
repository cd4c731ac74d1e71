using System.Globalization;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Inference;

/// <summary>The validated, engine-ready form of <see cref="GenerationParameters"/>.</summary>
public sealed record GenerationSettings(int? MaxTokens, IReadOnlyList<string> Stop, SamplingOptions Sampling, bool Stream, bool IncludeUsage)
{
    /// <summary>
    /// The most stop strings a request may hold: more than OpenAI's 4, since evaluation harnesses send more to local
    /// models (llama-server has no limit); an OpenAI-compatible backend is not sent more than its 4
    /// (<see cref="Backends.OpenAi.OpenAiChatBackend.MaxStopSequences"/>).
    /// </summary>
    public const int MaxStopSequences = 16;

    /// <summary>
    /// The most choices (<c>n</c>) one chat request may ask for. The local model runs them as separate sequences, at most
    /// as many at once as it has slots; OpenAI takes up to 128, but a chat answer is long and a local slot is dear.
    /// The value is 16.
    /// </summary>
    public const int MaxChatChoices = 16;

    /// <summary>The longest stop string, in UTF-16 code units.</summary>
    public const int MaxStopLength = 512;
    public const int MaxLogitBiasEntries = 1024;

    /// <summary>The choices asked for (<c>n</c>, 1 when not given).</summary>
    public int Choices { get; init; } = 1;

    public GenerationRequest ToRequest(string prompt) => new()
    {
        Prompt = prompt,
        MaxTokens = MaxTokens,
        Stop = Stop,
        Sampling = Sampling,
    };

    /// <summary>
    /// Validates every parameter's range; an invalid one is a 400 naming it in <c>param</c>. <c>n</c> may be from 1 to
    /// <paramref name="maxN"/> (the caller generates that many choices; 1 where only one is).
    /// </summary>
    public static ApiResult<GenerationSettings> From(GenerationParameters p, int maxN = 1)
    {
        if (p.N is { } n && (n < 1 || n > maxN))
        {
            return ApiErrors.InvalidParameter("n", maxN == 1 ? "Only n=1 is supported." : $"'n' must be from 1 to {maxN}.");
        }

        if (OutOfRange(p.Temperature, 0, 2)) return Range("temperature", "0", "2");
        if (OutOfRange(p.TopP, 0, 1)) return Range("top_p", "0", "1");
        if (OutOfRange(p.PresencePenalty, -2, 2)) return Range("presence_penalty", "-2", "2");
        if (OutOfRange(p.FrequencyPenalty, -2, 2)) return Range("frequency_penalty", "-2", "2");
        if (OutOfRange(p.MinP, 0, 1)) return Range("min_p", "0", "1");
        if (p.RepeatPenalty is { } repeat && !(repeat > 0 && repeat <= 10))
        {
            return ApiErrors.InvalidParameter("repeat_penalty", "'repeat_penalty' must be greater than 0 and at most 10 (1 disables it).");
        }

        if (p.TopK is < 0)
        {
            return ApiErrors.InvalidParameter("top_k", "'top_k' must be 0 (disabled) or greater.");
        }

        if (p.MaxCompletionTokens is < 1)
        {
            return ApiErrors.InvalidParameter("max_completion_tokens", "'max_completion_tokens' must be at least 1.");
        }

        if (p.MaxTokens is < 1)
        {
            return ApiErrors.InvalidParameter("max_tokens", "'max_tokens' must be at least 1.");
        }

        var stop = ParseStop(p.Stop);
        if (stop.Error is { } stopError)
        {
            return stopError;
        }

        var bias = ParseLogitBias(p.LogitBias);
        if (bias.Error is { } biasError)
        {
            return biasError;
        }

        var sampling = new SamplingOptions
        {
            Temperature = (float)(p.Temperature ?? 1),
            // top_p 0 is valid (OpenAI's range is 0..1): only the most likely token. llama.cpp's top-p sampler wants p > 0
            // and keeps at least one token, so the smallest positive p (also for a double too small for a float) is that.
            TopP = Math.Max((float)(p.TopP ?? 1), float.Epsilon),
            TopK = p.TopK ?? 0,
            MinP = (float)(p.MinP ?? 0),
            // OpenAI's seed is an int64; llama.cpp's is a uint32: the low 32 bits, deterministically.
            Seed = p.Seed is { } seed ? unchecked((uint)seed) : null,
            PresencePenalty = (float)(p.PresencePenalty ?? 0),
            FrequencyPenalty = (float)(p.FrequencyPenalty ?? 0),
            RepeatPenalty = (float)(p.RepeatPenalty ?? 1),
            LogitBias = bias.Value,
        };

        var stream = p.Stream ?? false;
        return new GenerationSettings(
            p.MaxCompletionTokens ?? p.MaxTokens,
            stop.Value ?? [],
            sampling,
            stream,
            stream && (p.StreamOptions?.IncludeUsage ?? false))
        {
            Choices = p.N ?? 1,
        };
    }

    private static bool OutOfRange(double? value, double min, double max) => value is { } v && !(v >= min && v <= max);

    private static ApiError Range(string param, string min, string max) =>
        ApiErrors.InvalidParameter(param, $"'{param}' must be from {min} to {max}.");

    private static ApiResult<IReadOnlyList<string>> ParseStop(JsonElement? stop)
    {
        if (stop is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return new ApiResult<IReadOnlyList<string>>([], null);
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            var single = element.GetString()!;
            return StopStringError(single, "stop") is { } singleError ? singleError : new ApiResult<IReadOnlyList<string>>([single], null);
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            return ApiErrors.InvalidParameter("stop", "'stop' must be a string or an array of strings.");
        }

        if (element.GetArrayLength() > MaxStopSequences)
        {
            return ApiErrors.InvalidParameter("stop", $"'stop' accepts at most {MaxStopSequences} sequences.");
        }

        var list = new List<string>();
        foreach (var item in element.EnumerateArray())
        {
            var param = $"stop[{list.Count}]";
            if (item.ValueKind != JsonValueKind.String)
            {
                return ApiErrors.InvalidParameter(param, "'stop' must be a string or an array of non-empty strings.");
            }

            var text = item.GetString()!;
            if (StopStringError(text, param) is { } error)
            {
                return error;
            }

            list.Add(text);
        }

        return list;
    }

    private static ApiError? StopStringError(string text, string param) => text.Length switch
    {
        0 => ApiErrors.InvalidParameter(param, "'stop' strings must not be empty."),
        > MaxStopLength => ApiErrors.InvalidParameter(param, $"'stop' strings must be at most {MaxStopLength} characters long."),
        _ => null,
    };

    private static ApiResult<IReadOnlyDictionary<int, float>?> ParseLogitBias(Dictionary<string, double>? logitBias)
    {
        if (logitBias is null || logitBias.Count == 0)
        {
            return new ApiResult<IReadOnlyDictionary<int, float>?>(null, null);
        }

        if (logitBias.Count > MaxLogitBiasEntries)
        {
            return ApiErrors.InvalidParameter("logit_bias", $"'logit_bias' accepts at most {MaxLogitBiasEntries} entries.");
        }

        var result = new Dictionary<int, float>(logitBias.Count);
        foreach (var (key, value) in logitBias)
        {
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var token))
            {
                return ApiErrors.InvalidParameter("logit_bias", "'logit_bias' keys must be token ids (non-negative integers as strings).");
            }

            if (!(value >= -100 && value <= 100))
            {
                return ApiErrors.InvalidParameter("logit_bias", "'logit_bias' values must be from -100 to 100.");
            }

            result[token] = (float)value;
        }

        return result;
    }
}
