using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;

namespace InferenceMesh.Gateway.Inference;

/// <summary>One choice of a completions request: its index in the answer, its prompt, the generation that writes it.</summary>
/// <param name="Index">OpenAI's choice index: prompt index × n + completion index.</param>
/// <param name="CountsPrompt">Whether its prompt tokens go into the usage (the first choice of each prompt: OpenAI counts a prompt once, whatever n).</param>
/// <param name="Echo">The prompt's text put before the choice's text (<c>echo</c>); empty for none.</param>
internal sealed record CompletionJob(int Index, PromptInput Prompt, GenerationRequest Request, bool CountsPrompt, string Echo);

/// <summary>
/// A completions request's choices: P prompts (a batch, <see cref="PromptList"/>) × n completions each, checked against
/// the model before anything is generated, so a bad prompt anywhere in a batch is a 400 naming it, never an error in
/// the middle of a stream.
/// </summary>
internal static class CompletionBatch
{
    /// <summary>The most choices (prompts × n) one request may ask for. The value is 128.</summary>
    public const int MaxChoices = 128;

    /// <summary>The most prompt tokens one request may carry over all its prompts. The value is 262144.</summary>
    public const int MaxPromptTokens = 262_144;

    /// <summary>
    /// The jobs for <paramref name="prompts"/> × <paramref name="n"/> on <paramref name="model"/>, each a copy of
    /// <paramref name="template"/> with its prompt (the k-th completion of a prompt with a seed runs with seed + k, so
    /// that n samples differ yet repeat), or a 400 naming the prompt at fault.
    /// </summary>
    public static ApiResult<IReadOnlyList<CompletionJob>> Plan(
        IReadOnlyList<PromptInput> prompts, int n, bool echo, GenerationRequest template, ILoadedModel model, InferenceService inference)
    {
        if (prompts.Count * n > MaxChoices)
        {
            return ApiErrors.InvalidParameter(
                n > 1 ? "n" : "prompt", $"One request may ask for at most {MaxChoices} completions (prompts × n); this one asks for {prompts.Count * n}.");
        }

        if (PromptList.CheckVocabulary(prompts, model.VocabularySize) is { } outOfVocabulary)
        {
            return outOfVocabulary;
        }

        var jobs = new List<CompletionJob>(prompts.Count * n);
        var total = 0L;
        for (var p = 0; p < prompts.Count; p++)
        {
            var prompt = prompts[p];

            // The engine checks each prompt again when it starts; here the whole batch is checked before the first starts.
            var length = prompt.Tokens?.Count ?? model.Tokenize(prompt.Text!, template.AddSpecialTokens, template.ParseSpecialTokens).Length;
            if (length >= model.SlotContextLength)
            {
                return inference.Map(
                    new EngineFailure(
                        EngineError.PromptTooLong,
                        $"The prompt has {length} tokens; this model's context is {model.SlotContextLength} tokens per request, including the completion.",
                        Limit: model.SlotContextLength),
                    prompt.Param);
            }

            total += length;
            if (total > MaxPromptTokens)
            {
                return ApiErrors.InvalidParameter("prompt", $"One request may carry at most {MaxPromptTokens} prompt tokens over all its prompts.");
            }

            var text = prompt.Text ?? model.Detokenize(prompt.Tokens!);
            for (var k = 0; k < n; k++)
            {
                var request = template with
                {
                    Prompt = text,
                    PromptTokens = prompt.Tokens,
                    Sampling = template.Sampling.Seed is { } seed ? template.Sampling with { Seed = unchecked(seed + (uint)k) } : template.Sampling,
                };
                jobs.Add(new CompletionJob(p * n + k, prompt, request, CountsPrompt: k == 0, echo ? text : string.Empty));
            }
        }

        return jobs;
    }
}
