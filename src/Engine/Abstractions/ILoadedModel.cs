namespace InferenceMesh.Engine;

/// <summary>
/// A model loaded into the engine, with its scheduler. Thread-safe: any number of callers may start
/// generations and embeddings concurrently; one scheduler thread batches them all into each decode.
/// </summary>
public interface ILoadedModel
{
    /// <summary>The id under which the model is served (file name without .gguf).</summary>
    string Id { get; }

    /// <summary>Context size of one slot (one sequence), in tokens.</summary>
    int SlotContextLength { get; }

    /// <summary>Whether the GGUF carries a chat template (tokenizer.chat_template).</summary>
    bool HasChatTemplate { get; }

    /// <summary>Applies the model's chat template, or the documented fallback when it has none.</summary>
    EngineResult<string> ApplyChatTemplate(IReadOnlyList<ChatMessage> messages);

    /// <summary>Tokenises text with the model's vocabulary.</summary>
    int[] Tokenize(string text, bool addSpecial, bool parseSpecial);

    /// <summary>The number of tokens in the model's vocabulary: token ids run from 0 to one less.</summary>
    int VocabularySize { get; }

    /// <summary>
    /// The text of a token prompt, as llama.cpp's detokeniser gives it: control tokens (BOS, EOS, …) have no text, and
    /// the space a SentencePiece tokenizer puts before the first word is left out, so that the tokens of a text give
    /// that text back. Every id must be below <see cref="VocabularySize"/>.
    /// </summary>
    string Detokenize(IReadOnlyList<int> tokens);

    /// <summary>
    /// The UTF-8 bytes of one token as llama.cpp's <c>llama_token_to_piece</c> writes them with special tokens rendered
    /// (BOS as its text, the SentencePiece space kept): llama-server's <c>with_pieces</c>. May be part of a character.
    /// The id must be below <see cref="VocabularySize"/>.
    /// </summary>
    byte[] TokenPiece(int token);

    /// <summary>
    /// Validates and enqueues a generation. Fails fast (before any token) with PromptTooLong,
    /// InvalidParameter or Overloaded, so the HTTP layer can still choose the status code.
    /// </summary>
    ValueTask<EngineResult<IGeneration>> StartGenerationAsync(GenerationRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Embeds each input (mean pooling, L2-normalised), batched through the scheduler. A failure of one input names it
    /// in <see cref="EngineFailure.Param"/> (<c>input[i]</c>, its index in <paramref name="inputs"/>).
    /// </summary>
    ValueTask<EngineResult<EmbeddingResult>> EmbedAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="EmbedAsync"/> for inputs given as the model's own token ids, used exactly as given (no BOS added).
    /// Every id must be below <see cref="VocabularySize"/>.
    /// </summary>
    ValueTask<EngineResult<EmbeddingResult>> EmbedTokensAsync(IReadOnlyList<IReadOnlyList<int>> inputs, CancellationToken cancellationToken = default);

    /// <summary>A snapshot of the scheduler's slots for /health and /metrics.</summary>
    SchedulerStatus GetStatus();

    /// <summary>
    /// Frees every loaded LoRA adapter that is not in <paramref name="offered"/> (it was removed or replaced): at once
    /// when no sequence uses it, else as soon as the last one that does ends. Cheap; call it whenever the offer may
    /// have changed. The task completes once the retirement is done (unused adapters freed).
    /// </summary>
    Task RetireAdaptersExceptAsync(IReadOnlyCollection<AdapterSource> offered) => Task.CompletedTask;
}

public enum SlotState { Idle, Prefill, Generating, Embedding }

public sealed record SlotStatus(int Slot, SlotState State, int TokensInContext);

/// <summary>
/// A scheduler's state. PromptTokensReused counts prompt tokens whose KV cells came from an earlier
/// sequence (prefix reuse) instead of being decoded again; DecodeCalls counts llama_decode calls; LoadedAdapters counts
/// the LoRA adapters in memory; AdapterSwitches counts changes of the context's adapter set between decodes;
/// MixedDecodeCalls counts decodes that carried both generated tokens and a prompt chunk (chunked prefill at work);
/// DecodeThreads is the thread count decoding runs at now (the configured one, or 1 while the machine's cores are too
/// busy for it) and DecodeThreadSwitches how often it moved between the two.
/// </summary>
public sealed record SchedulerStatus(
    string ModelId,
    int Slots,
    int SlotContextLength,
    int ActiveSequences,
    int QueuedSequences,
    IReadOnlyList<SlotStatus> SlotStates,
    long PromptTokensReused = 0,
    long DecodeCalls = 0,
    int LoadedAdapters = 0,
    long AdapterSwitches = 0,
    long MixedDecodeCalls = 0,
    int DecodeThreads = 0,
    long DecodeThreadSwitches = 0);
