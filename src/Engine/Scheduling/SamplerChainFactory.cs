using InferenceMesh.Engine.Native;

namespace InferenceMesh.Engine.Scheduling;

/// <summary>Builds one llama.cpp sampler chain per sequence from the request's sampling options.</summary>
internal static class SamplerChainFactory
{
    /// <summary>Validates options against the model; returns the failure naming the parameter, or null.</summary>
    public static EngineFailure? Validate(SamplingOptions options, int vocabularySize)
    {
        static EngineFailure Invalid(string param, string message) => new(EngineError.InvalidParameter, message, param);

        if (!float.IsFinite(options.Temperature) || options.Temperature < 0 || options.Temperature > 2)
        {
            return Invalid("temperature", "temperature must be between 0 and 2.");
        }

        if (!float.IsFinite(options.TopP) || options.TopP <= 0 || options.TopP > 1)
        {
            return Invalid("top_p", "top_p must be greater than 0 and at most 1.");
        }

        if (options.TopK < 0)
        {
            return Invalid("top_k", "top_k must be 0 (disabled) or positive.");
        }

        if (!float.IsFinite(options.MinP) || options.MinP < 0 || options.MinP > 1)
        {
            return Invalid("min_p", "min_p must be between 0 and 1.");
        }

        if (!float.IsFinite(options.PresencePenalty) || options.PresencePenalty < -2 || options.PresencePenalty > 2)
        {
            return Invalid("presence_penalty", "presence_penalty must be between -2 and 2.");
        }

        if (!float.IsFinite(options.FrequencyPenalty) || options.FrequencyPenalty < -2 || options.FrequencyPenalty > 2)
        {
            return Invalid("frequency_penalty", "frequency_penalty must be between -2 and 2.");
        }

        if (!float.IsFinite(options.RepeatPenalty) || options.RepeatPenalty <= 0 || options.RepeatPenalty > 10)
        {
            return Invalid("repeat_penalty", "repeat_penalty must be greater than 0 and at most 10.");
        }

        if (options.PenaltyLastN < 0)
        {
            return Invalid("repeat_last_n", "repeat_last_n must not be negative.");
        }

        if (options.LogitBias is { } bias)
        {
            foreach (var (token, value) in bias)
            {
                if (token < 0 || token >= vocabularySize)
                {
                    return Invalid("logit_bias", $"logit_bias names token {token}, outside the model's vocabulary of {vocabularySize} tokens.");
                }

                if (!float.IsFinite(value) || value < -100 || value > 100)
                {
                    return Invalid("logit_bias", "logit_bias values must be between -100 and 100.");
                }
            }
        }

        return null;
    }

    /// <summary>The chain for one sequence; null when <see cref="SamplingOptions.Grammar"/> does not parse.</summary>
    public static SafeLlamaSamplerHandle? Create(SamplingOptions options, IntPtr vocabulary, int vocabularySize)
    {
        var chain = SafeLlamaSamplerHandle.CreateChain();
        if (options.Grammar is { } grammar)
        {
            // First, so every later step (and greedy's argmax) only sees tokens the grammar allows.
            var sampler = LlamaNative.llama_sampler_init_grammar(vocabulary, grammar, "root");
            if (sampler == IntPtr.Zero)
            {
                chain.Dispose();
                return null;
            }

            chain.Add(sampler);
        }

        if (options.LogitBias is { Count: > 0 } bias)
        {
            var entries = bias.Select(b => new LlamaLogitBias { token = b.Key, bias = b.Value }).ToArray();
            unsafe
            {
                fixed (LlamaLogitBias* pointer = entries)
                {
                    chain.Add(LlamaNative.llama_sampler_init_logit_bias(vocabularySize, entries.Length, pointer));
                }
            }
        }

        var penalised = options.RepeatPenalty != 1f || options.FrequencyPenalty != 0f || options.PresencePenalty != 0f;
        if (penalised && options.PenaltyLastN != 0)
        {
            chain.Add(LlamaNative.llama_sampler_init_penalties(vocabularySize, options.PenaltyLastN, options.RepeatPenalty, options.FrequencyPenalty, options.PresencePenalty));
        }

        if (options.Temperature <= 0f)
        {
            chain.Add(LlamaNative.llama_sampler_init_greedy());
            return chain;
        }

        if (options.TopK > 0)
        {
            chain.Add(LlamaNative.llama_sampler_init_top_k(options.TopK));
        }

        if (options.TopP < 1f)
        {
            chain.Add(LlamaNative.llama_sampler_init_top_p(options.TopP, 1));
        }

        if (options.MinP > 0f)
        {
            chain.Add(LlamaNative.llama_sampler_init_min_p(options.MinP, 1));
        }

        chain.Add(LlamaNative.llama_sampler_init_temp(options.Temperature));
        chain.Add(LlamaNative.llama_sampler_init_dist(options.Seed ?? (uint)Random.Shared.Next()));
        return chain;
    }
}
