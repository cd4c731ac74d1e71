namespace InferenceMesh.Engine;

/// <summary>Sampling settings for one sequence, mapped onto llama.cpp's sampler chain.</summary>
public sealed record SamplingOptions
{
    /// <summary>0 means greedy. The default value is 1.</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>Nucleus sampling; 1 disables it. The default value is 1.</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>0 disables it. The default value is 0.</summary>
    public int TopK { get; init; }
    /// <summary>0 disables it. The default value is 0.</summary>
    public float MinP { get; init; }
    /// <summary>Seed of the distribution sampler; null picks a random one. The default value is null.</summary>
    public uint? Seed { get; init; }
    /// <summary>OpenAI presence penalty (-2..2). The default value is 0.</summary>
    public float PresencePenalty { get; init; }
    /// <summary>OpenAI frequency penalty (-2..2). The default value is 0.</summary>
    public float FrequencyPenalty { get; init; }
    /// <summary>llama.cpp repeat penalty; 1 disables it. The default value is 1.</summary>
    public float RepeatPenalty { get; init; } = 1f;
    /// <summary>How many recent tokens the penalties look at. The default value is 64.</summary>
    public int PenaltyLastN { get; init; } = 64;
    /// <summary>Token id to additive logit bias (OpenAI logit_bias, -100..100). The default value is null.</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>
    /// A GBNF grammar (llama.cpp's grammar format, start rule <c>root</c>) every generated token must keep the text
    /// inside, e.g. <see cref="Grammars.JsonObject"/>. The default value is null (no constraint).
    /// </summary>
    public string? Grammar { get; init; }

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f };
}

/// <summary>One text generation on a loaded model.</summary>
public sealed record GenerationRequest
{
    /// <summary>The full prompt text (after the chat template, when there was one).</summary>
    public required string Prompt { get; init; }

    /// <summary>
    /// The prompt as the model's own token ids, used exactly as given (no BOS added, nothing parsed; as llama-server
    /// takes a token prompt): when set, <see cref="Prompt"/>, <see cref="AddSpecialTokens"/> and
    /// <see cref="ParseSpecialTokens"/> are not used. Every id must be below <see cref="ILoadedModel.VocabularySize"/>.
    /// The default value is null (the prompt is <see cref="Prompt"/>).
    /// </summary>
    public IReadOnlyList<int>? PromptTokens { get; init; }
    /// <summary>Whether BOS and other special tokens are added when tokenising. The default value is true.</summary>
    public bool AddSpecialTokens { get; init; } = true;
    /// <summary>Whether special-token text in the prompt (e.g. template markers) is parsed as special tokens. The default value is true.</summary>
    public bool ParseSpecialTokens { get; init; } = true;
    /// <summary>
    /// Maximum tokens to generate; null means until end-of-generation or the context is full; 0 only reads the prompt
    /// (to score it, <see cref="ScorePrompt"/>). The default value is null.
    /// </summary>
    public int? MaxTokens { get; init; }
    /// <summary>Stop strings; generation ends before the first occurrence, even when it spans tokens. The default value is empty.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>
    /// LoRA adapters applied to this generation only (see <see cref="AdapterLimits"/>). Sequences with different
    /// adapter sets never share a decode. The default value is empty (the base model).
    /// </summary>
    public IReadOnlyList<AdapterUse> Adapters { get; init; } = [];

    /// <summary>
    /// Report each generated token's log probability with this many most likely alternatives
    /// (0..<see cref="MaxTopLogProbs"/>; OpenAI <c>logprobs</c>/<c>top_logprobs</c>). They come from the model's own
    /// distribution at that step (log-softmax of its logits, before temperature, penalties, bias and grammar). The
    /// default value is null (none computed).
    /// </summary>
    public int? TopLogProbs { get; init; }

    /// <summary>
    /// Score the prompt too (<see cref="IGeneration.PromptLogProbs"/>): each prompt token's log probability given the
    /// ones before it, with <see cref="TopLogProbs"/> alternatives (0 when null). Its cells are then computed afresh,
    /// not reused from an earlier prompt (reused cells have no logits). The default value is false.
    /// </summary>
    public bool ScorePrompt { get; init; }

    /// <summary>
    /// With <see cref="TopLogProbs"/>: each token's <see cref="TokenLogProb.EndOfGeneration"/> holds the log probability
    /// of ending the answer at that step, and a generation that ends on end-of-generation reports that last step
    /// (<see cref="GenerationOutcome.EndOfGenerationStep"/>), so a caller can tell whether ending was a near tie with
    /// the token chosen, or the token the model would have written instead of ending (answer verification). The
    /// default value is false.
    /// </summary>
    public bool EndOfGenerationLogProbs { get; init; }

    /// <summary>The largest <see cref="TopLogProbs"/> (OpenAI's limit).</summary>
    public const int MaxTopLogProbs = 20;
}

/// <summary>A candidate token and its log probability (natural log).</summary>
public readonly record struct TokenCandidate(int Token, byte[] Bytes, float LogProb);

/// <summary>
/// A generated token with its log probability and the most likely alternatives at that step, best first (the
/// generated token is among them when it was likely enough).
/// </summary>
public sealed record TokenLogProb(TokenCandidate Chosen, IReadOnlyList<TokenCandidate> Top)
{
    /// <summary>Where the token's text starts in the generated text (UTF-16 code units).</summary>
    public int TextOffset { get; init; }

    /// <summary>
    /// The most likely end-of-generation token at this step and its log probability, whether or not it is among
    /// <see cref="Top"/>; null unless the request asked (<see cref="GenerationRequest.EndOfGenerationLogProbs"/>).
    /// </summary>
    public TokenCandidate? EndOfGeneration { get; init; }
}

/// <summary>
/// One step of a generation's output: UTF-8-complete text, and when log probabilities were asked for, the tokens
/// that text completes (a token split across a character arrives with the delta that completes the character; the
/// tokens of a stop string are left out).
/// </summary>
public readonly record struct GenerationDelta(string Text, IReadOnlyList<TokenLogProb>? LogProbs = null);

/// <summary>A scored prompt: its first token (nothing before it to score it by), then every other token with its score.</summary>
public sealed record PromptLogProbs(TokenCandidate First, IReadOnlyList<TokenLogProb> Rest);

public enum FinishReason
{
    /// <summary>End-of-generation token or a stop string.</summary>
    Stop,
    /// <summary>max_tokens reached, or the slot's context is full.</summary>
    Length,
}

/// <summary>How a generation ended: a finish reason and token counts, or a failure.</summary>
public sealed record GenerationOutcome(FinishReason FinishReason, int PromptTokens, int CompletionTokens, EngineFailure? Failure = null)
{
    /// <summary>
    /// The step that ended the answer with an end-of-generation token (<see cref="TokenLogProb.Chosen"/>), with the
    /// alternatives the model had there; null unless the request asked
    /// (<see cref="GenerationRequest.EndOfGenerationLogProbs"/>) and the answer ended that way (not by a stop string,
    /// max_tokens or a full context).
    /// </summary>
    public TokenLogProb? EndOfGenerationStep { get; init; }
}

/// <summary>
/// A running generation. Read <see cref="ReadAsync"/> (or <see cref="ReadTextAsync"/>) once to the end; each item is
/// a UTF-8-complete text delta with stop strings already removed. Cancelling the token passed to it, or disposing,
/// removes the sequence from the batch within one decode step and frees its KV cells.
/// </summary>
public interface IGeneration : IAsyncDisposable
{
    /// <summary>The number of prompt tokens (known before the first token).</summary>
    int PromptTokens { get; }

    /// <summary>The deltas, with their tokens' log probabilities when the request asked for them.</summary>
    IAsyncEnumerable<GenerationDelta> ReadAsync(CancellationToken cancellationToken = default);

    /// <summary>The text of <see cref="ReadAsync"/> alone.</summary>
    async IAsyncEnumerable<string> ReadTextAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var delta in ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return delta.Text;
        }
    }

    /// <summary>Completes once the sequence has ended (normally, by failure or by cancellation).</summary>
    Task<GenerationOutcome> Completion { get; }

    /// <summary>
    /// Ends the generation before its next token as a stop string would (<see cref="FinishReason.Stop"/>, no failure, the
    /// tokens so far counted), for a reader that finds the end of the answer itself (a stop string in the text of a tool
    /// envelope's answer, which only the reader can tell from the envelope). Text generated before the request took
    /// effect may still arrive: the reader ignores it. Safe from any thread; an implementation that cannot stop early
    /// ignores it (the reader then reads on to the end).
    /// </summary>
    void RequestStop()
    {
    }

    /// <summary>
    /// The prompt's scores once it is read (<see cref="GenerationRequest.ScorePrompt"/>); null when not asked for or
    /// when the sequence ended before its prompt was read.
    /// </summary>
    Task<PromptLogProbs?> PromptLogProbs => Task.FromResult<PromptLogProbs?>(null);
}

/// <summary>Embeddings for a batch of inputs: one normalised vector per input, mean pooled.</summary>
public sealed record EmbeddingResult(IReadOnlyList<float[]> Vectors, int PromptTokens);

/// <summary>A chat message as handed to the chat template.</summary>
public sealed record ChatMessage(string Role, string Content);
