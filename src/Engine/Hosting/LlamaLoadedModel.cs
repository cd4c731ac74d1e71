using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using InferenceMesh.Engine.Native;
using InferenceMesh.Engine.Scheduling;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Hosting;

/// <summary>
/// A llama.cpp model with its generation context and scheduler. Tokenising and templating run on the
/// caller's thread (they only read the vocabulary); everything that touches a context runs on the scheduler.
/// </summary>
internal sealed partial class LlamaLoadedModel : ILoadedModel, IDisposable
{
    private readonly SafeLlamaModelHandle _model;
    private readonly IntPtr _vocab;
    private readonly BatchScheduler _scheduler;
    private readonly string? _chatTemplate;
    private readonly int _vocabularySize;
    private long _sequenceNumber;

    private LlamaLoadedModel(ModelSource source, SafeLlamaModelHandle model, BatchScheduler scheduler, long estimatedBytes)
    {
        Id = source.Id;
        Source = source;
        _model = model;
        _vocab = LlamaNative.llama_model_get_vocab(model);
        _vocabularySize = LlamaNative.llama_vocab_n_tokens(_vocab);
        _scheduler = scheduler;
        _chatTemplate = ReadChatTemplate(model);
        EstimatedBytes = estimatedBytes;
    }

    public string Id { get; }

    public ModelSource Source { get; }

    public int SlotContextLength => _scheduler.Settings.SlotContextLength;

    public bool HasChatTemplate => _chatTemplate is not null;

    public int VocabularySize => _vocabularySize;

    /// <summary>Weights plus KV cache, as llama.cpp reports them; used for the memory budget.</summary>
    public long EstimatedBytes { get; }

    public bool IsIdle => _scheduler.IsIdle;

    public long LastUseTimestamp => _scheduler.LastUseTimestamp;

    /// <summary>The OS name of the decode pool's worker threads (<c>top -H</c>), or null without a persistent pool.</summary>
    internal string? DecodeThreadName => _scheduler.DecodeThreadName;

    /// <summary>How often the decode pool was sent to sleep because nothing was left to decode.</summary>
    internal long DecodePoolPauses => _scheduler.DecodePoolPauses;

    /// <summary>How often a context's decode thread count changed.</summary>
    internal long ContextThreadChanges => _scheduler.ContextThreadChanges;

    /// <summary>Pins the decode thread count (0: the governor chooses again); for tests of the switch.</summary>
    internal void PinDecodeThreads(int threads) => _scheduler.PinDecodeThreads(threads);

    /// <summary>Alternates the decode thread count every <paramref name="steps"/> decodes (0 stops); for tests of the switch.</summary>
    internal void AlternateDecodeThreads(int steps) => _scheduler.AlternateDecodeThreads(steps);

    /// <summary>Loads the model and creates its context and scheduler; runs on a thread-pool thread.</summary>
    public static EngineResult<LlamaLoadedModel> Load(ModelSource source, EngineOptions options, ILogger logger)
    {
        var modelParams = LlamaNative.llama_model_default_params();
        var model = SafeLlamaModelHandle.LoadFromFile(source.Path, modelParams);
        if (model is null)
        {
            return EngineResult<LlamaLoadedModel>.Fail(EngineError.ModelLoadFailed, $"llama.cpp could not load model '{source.Id}'; see the gateway log.");
        }

        var trainContext = LlamaNative.llama_model_n_ctx_train(model);
        var slots = options.ResolveSlots();
        var slotContext = options.ResolveSlotContext(trainContext);
        var threads = options.ResolveThreads();
        var batchSize = Math.Max(options.BatchSize, slots);

        var contextParams = LlamaNative.llama_context_default_params();
        contextParams.n_ctx = (uint)(slots * slotContext);
        contextParams.n_batch = (uint)batchSize;
        contextParams.n_ubatch = (uint)Math.Min(batchSize, 512);
        contextParams.n_seq_max = (uint)slots;
        contextParams.n_threads = threads;
        contextParams.n_threads_batch = threads;
        contextParams.kv_unified = true;
        contextParams.no_perf = true;
        contextParams.embeddings = false;
        var context = SafeLlamaContextHandle.Create(model, contextParams);
        if (context is null)
        {
            model.Dispose();
            return EngineResult<LlamaLoadedModel>.Fail(EngineError.ModelLoadFailed, $"llama.cpp could not create a context of {slots} × {slotContext} tokens for model '{source.Id}'.");
        }

        // A persistent pool for both contexts: without it ggml spawns and joins threads in every decode.
        var threadpool = SafeGgmlThreadpoolHandle.Create(threads, options.ThreadpoolPoll);
        if (threadpool is null)
        {
            LogNoThreadpool(logger, source.Id);
        }
        else
        {
            LlamaNative.llama_attach_threadpool(context, threadpool.DangerousGetHandle(), threadpool.DangerousGetHandle());
        }

        var settings = new SchedulerSettings(source.Id, slots, slotContext, batchSize, options.ResolveQueueLimit(), options.PrefixReuse && !IsRecurrent(model), threads, options.AdaptiveThreads);
        var scheduler = new BatchScheduler(settings, model, context, threadpool, () => CreateEmbeddingContext(model, slotContext, threads, threadpool), logger);
        var estimated = (long)LlamaNative.llama_model_size(model) + EstimateKvBytes(model, slots * slotContext);
        LogLoaded(logger, source.Id, slots, slotContext, threads, estimated / (1024 * 1024));
        return EngineResult<LlamaLoadedModel>.Ok(new LlamaLoadedModel(source, model, scheduler, estimated));
    }

    public EngineResult<string> ApplyChatTemplate(IReadOnlyList<ChatMessage> messages)
    {
        if (messages.Count == 0)
        {
            return EngineResult<string>.Fail(EngineError.InvalidParameter, "messages must contain at least one message.", "messages");
        }

        if (_chatTemplate is null)
        {
            return EngineResult<string>.Ok(ChatTemplateFallback.Apply(messages));
        }

        return ApplyLlamaTemplate(_chatTemplate, messages) is { } formatted
            ? EngineResult<string>.Ok(formatted)
            : EngineResult<string>.Ok(ChatTemplateFallback.Apply(messages));
    }

    public int[] Tokenize(string text, bool addSpecial, bool parseSpecial)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var tokens = new int[bytes.Length + 8];
        unsafe
        {
            fixed (byte* textPointer = bytes)
            fixed (int* tokenPointer = tokens)
            {
                var count = LlamaNative.llama_tokenize(_vocab, textPointer, bytes.Length, tokenPointer, tokens.Length, addSpecial, parseSpecial);
                if (count >= 0)
                {
                    return tokens.AsSpan(0, count).ToArray();
                }

                tokens = new int[-count];
            }

            fixed (byte* textPointer = bytes)
            fixed (int* tokenPointer = tokens)
            {
                var count = LlamaNative.llama_tokenize(_vocab, textPointer, bytes.Length, tokenPointer, tokens.Length, addSpecial, parseSpecial);
                return tokens.AsSpan(0, Math.Max(0, count)).ToArray();
            }
        }
    }

    public string Detokenize(IReadOnlyList<int> tokens)
    {
        if (OutOfVocabulary(tokens) is { } index)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), $"Token {index} is not in the vocabulary.");
        }

        // llama_detokenize leaves out the SentencePiece space before the first word only when no BOS comes first
        // (with remove_special it even keeps it after a BOS), so the leading BOS tokens are skipped here.
        var bos = LlamaNative.llama_vocab_bos(_vocab);
        var skip = 0;
        while (skip < tokens.Count && tokens[skip] == bos)
        {
            skip++;
        }

        var rest = new int[tokens.Count - skip];
        for (var i = 0; i < rest.Length; i++)
        {
            rest[i] = tokens[skip + i];
        }

        return LlamaTokenizer.Detokenize(_vocab, rest, removeSpecial: false, unparseSpecial: false);
    }

    public byte[] TokenPiece(int token)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)token, (uint)_vocabularySize, nameof(token));
        return LlamaTokenizer.TokenToPiece(_vocab, token, special: true);
    }

    /// <summary>The index of the first id outside the vocabulary, or null when every id is in it.</summary>
    private int? OutOfVocabulary(IReadOnlyList<int> tokens)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            if ((uint)tokens[i] >= (uint)_vocabularySize)
            {
                return i;
            }
        }

        return null;
    }

    public async ValueTask<EngineResult<IGeneration>> StartGenerationAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        var validated = Validate(request, cancellationToken, out var prompt);
        if (validated is not null)
        {
            return EngineResult<IGeneration>.Fail(validated);
        }

        if (SamplerChainFactory.Create(request.Sampling, _vocab, _vocabularySize) is not { } sampler)
        {
            return EngineResult<IGeneration>.Fail(new EngineFailure(EngineError.InvalidParameter, "The grammar does not parse.", "grammar"));
        }

        // Adapters load on the scheduler thread (never beside a decode); a failure still comes before any token.
        var adapters = await _scheduler.AcquireAdaptersAsync(request.Adapters, cancellationToken).ConfigureAwait(false);
        if (!adapters.Succeeded)
        {
            sampler.Dispose();
            return EngineResult<IGeneration>.Fail(adapters.Failure!);
        }

        var sequence = new Sequence(Interlocked.Increment(ref _sequenceNumber), request, prompt!, sampler, adapters.Value);
        if (_scheduler.TryEnqueue(sequence) is { } refused)
        {
            sequence.Sampler.Dispose();
            _scheduler.ReleaseAdapters(sequence.Adapters);
            return EngineResult<IGeneration>.Fail(refused);
        }

        return EngineResult<IGeneration>.Ok(new Generation(sequence, _scheduler));
    }

    public Task RetireAdaptersExceptAsync(IReadOnlyCollection<AdapterSource> offered) => _scheduler.RetireAdaptersExceptAsync(offered);

    /// <summary>The checks that need no scheduler: null when the request may be queued.</summary>
    private EngineFailure? Validate(GenerationRequest request, CancellationToken cancellationToken, out int[]? prompt)
    {
        prompt = null;
        if (cancellationToken.IsCancellationRequested)
        {
            return new EngineFailure(EngineError.Cancelled, "The request was cancelled.");
        }

        if (SamplerChainFactory.Validate(request.Sampling, _vocabularySize) is { } invalid)
        {
            return invalid;
        }

        if (request.MaxTokens is < 0)
        {
            return new EngineFailure(EngineError.InvalidParameter, "max_tokens must not be negative.", "max_tokens");
        }

        if (request.TopLogProbs is < 0 or > GenerationRequest.MaxTopLogProbs)
        {
            return new EngineFailure(EngineError.InvalidParameter, $"top_logprobs must be between 0 and {GenerationRequest.MaxTopLogProbs}.", "top_logprobs");
        }

        if (AdapterLimits.Validate(request.Adapters) is { } adapterError)
        {
            return new EngineFailure(EngineError.InvalidParameter, adapterError, "lora");
        }

        int[] tokens;
        if (request.PromptTokens is { } given)
        {
            if (OutOfVocabulary(given) is { } index)
            {
                return new EngineFailure(EngineError.InvalidParameter, $"Token {index} of the prompt is not in the model's vocabulary of {_vocabularySize} tokens.", "prompt");
            }

            tokens = [.. given];
        }
        else
        {
            tokens = DropDuplicateBos(Tokenize(request.Prompt, request.AddSpecialTokens, request.ParseSpecialTokens));
        }

        if (tokens.Length == 0)
        {
            return new EngineFailure(EngineError.InvalidParameter, "The prompt is empty.", "prompt");
        }

        // The prompt plus at least one generated token must fit the slot; never truncate silently.
        if (tokens.Length >= SlotContextLength)
        {
            return new EngineFailure(
                EngineError.PromptTooLong,
                $"The prompt has {tokens.Length} tokens; this model's context is {SlotContextLength} tokens per request, including the completion.",
                "messages",
                SlotContextLength);
        }

        prompt = tokens;
        return null;
    }

    public ValueTask<EngineResult<EmbeddingResult>> EmbedAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken = default) =>
        EmbedTokenisedAsync([.. inputs.Select(input => Tokenize(input, addSpecial: true, parseSpecial: false))], cancellationToken);

    public ValueTask<EngineResult<EmbeddingResult>> EmbedTokensAsync(IReadOnlyList<IReadOnlyList<int>> inputs, CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < inputs.Count; i++)
        {
            if (OutOfVocabulary(inputs[i]) is { } index)
            {
                return ValueTask.FromResult(EngineResult<EmbeddingResult>.Fail(
                    EngineError.InvalidParameter, $"Token {index} of input[{i}] is not in the model's vocabulary of {_vocabularySize} tokens.", $"input[{i}]"));
            }
        }

        return EmbedTokenisedAsync([.. inputs.Select(input => input.ToArray())], cancellationToken);
    }

    /// <summary>Checks every input fits the embedding context, then queues them as one job.</summary>
    private async ValueTask<EngineResult<EmbeddingResult>> EmbedTokenisedAsync(int[][] tokenised, CancellationToken cancellationToken)
    {
        if (tokenised.Length == 0)
        {
            return EngineResult<EmbeddingResult>.Fail(EngineError.InvalidParameter, "input must not be empty.", "input");
        }

        var limit = _scheduler.EmbeddingContextLength;
        for (var i = 0; i < tokenised.Length; i++)
        {
            if (tokenised[i].Length == 0)
            {
                return EngineResult<EmbeddingResult>.Fail(EngineError.InvalidParameter, $"input[{i}] is empty.", $"input[{i}]");
            }

            if (tokenised[i].Length > limit)
            {
                return EngineResult<EmbeddingResult>.Fail(EngineError.PromptTooLong, $"input[{i}] has {tokenised[i].Length} tokens; the limit for embeddings is {limit}.", $"input[{i}]", limit);
            }
        }

        var job = new EmbeddingJob(tokenised, cancellationToken);
        _scheduler.EnqueueEmbedding(job);
        try
        {
            return await job.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return EngineResult<EmbeddingResult>.Fail(EngineError.Cancelled, "The request was cancelled.");
        }
    }

    public SchedulerStatus GetStatus() => _scheduler.GetStatus();

    /// <summary>
    /// A chat template that writes the BOS text itself, tokenised with add_special, gives two BOS tokens;
    /// llama.cpp's own server keeps one. So do we.
    /// </summary>
    private int[] DropDuplicateBos(int[] tokens)
    {
        var bos = LlamaNative.llama_vocab_bos(_vocab);
        return tokens.Length >= 2 && bos >= 0 && tokens[0] == bos && tokens[1] == bos ? tokens[1..] : tokens;
    }

    public void Dispose()
    {
        _scheduler.Dispose();
        _model.Dispose();
    }

    private static SafeLlamaContextHandle? CreateEmbeddingContext(SafeLlamaModelHandle model, int slotContext, int threads, SafeGgmlThreadpoolHandle? threadpool)
    {
        var size = (uint)Math.Min(slotContext, EmbeddingLimits.MaxTokensPerDecode);
        var contextParams = LlamaNative.llama_context_default_params();
        contextParams.n_ctx = size;
        contextParams.n_batch = size;
        contextParams.n_ubatch = size;
        contextParams.n_seq_max = EmbeddingLimits.MaxSequencesPerDecode;
        contextParams.n_threads = threads;
        contextParams.n_threads_batch = threads;
        contextParams.embeddings = true;
        contextParams.pooling_type = LlamaPoolingType.Mean;
        contextParams.kv_unified = true;
        contextParams.no_perf = true;
        var context = SafeLlamaContextHandle.Create(model, contextParams);
        if (context is not null && threadpool is not null)
        {
            // The scheduler thread runs one context at a time, so both can share the pool.
            LlamaNative.llama_attach_threadpool(context, threadpool.DangerousGetHandle(), threadpool.DangerousGetHandle());
        }

        return context;
    }

    private static bool IsRecurrent(SafeLlamaModelHandle model)
        => LlamaNative.llama_model_is_recurrent(model) || LlamaNative.llama_model_is_hybrid(model);

    private static long EstimateKvBytes(SafeLlamaModelHandle model, int cells)
    {
        // K and V in F16 for every layer: 2 × layers × cells × (embedding × kv heads / heads) × 2 bytes.
        long layers = LlamaNative.llama_model_n_layer(model);
        long embd = LlamaNative.llama_model_n_embd(model);
        long heads = Math.Max(1, LlamaNative.llama_model_n_head(model));
        long kvHeads = Math.Max(1, LlamaNative.llama_model_n_head_kv(model));
        return 2 * layers * cells * (embd * kvHeads / heads) * 2;
    }

    private static string? ReadChatTemplate(SafeLlamaModelHandle model)
    {
        unsafe
        {
            var pointer = LlamaNative.llama_model_chat_template(model, null);
            return pointer == null ? null : Marshal.PtrToStringUTF8((IntPtr)pointer);
        }
    }

    public static unsafe string? ApplyLlamaTemplate(string template, IReadOnlyList<ChatMessage> messages)
    {
        var handles = new List<GCHandle>();
        try
        {
            var native = new LlamaChatMessage[messages.Count];
            var total = 0;
            for (var i = 0; i < messages.Count; i++)
            {
                native[i] = new LlamaChatMessage { role = (byte*)Pin(messages[i].Role), content = (byte*)Pin(messages[i].Content) };
                total += Encoding.UTF8.GetByteCount(messages[i].Content) + Encoding.UTF8.GetByteCount(messages[i].Role);
            }

            var buffer = new byte[Math.Max(256, total * 2 + 256)];
            for (var attempt = 0; attempt < 2; attempt++)
            {
                unsafe
                {
                    fixed (LlamaChatMessage* chat = native)
                    fixed (byte* output = buffer)
                    {
                        var length = LlamaNative.llama_chat_apply_template(template, chat, (nuint)native.Length, true, output, buffer.Length);
                        if (length < 0)
                        {
                            return null;
                        }

                        if (length <= buffer.Length)
                        {
                            return Encoding.UTF8.GetString(buffer, 0, length);
                        }

                        buffer = new byte[length];
                    }
                }
            }

            return null;
        }
        finally
        {
            foreach (var handle in handles)
            {
                handle.Free();
            }
        }

        IntPtr Pin(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value + "\0");
            var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
            handles.Add(handle);
            return handle.AddrOfPinnedObject();
        }
    }

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "No persistent CPU threadpool for model {ModelId}: ggml will create threads in every decode (slower)")]
    private static partial void LogNoThreadpool(ILogger logger, string modelId);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Loaded model {ModelId}: {Slots} slots × {SlotContext} tokens, {Threads} threads, about {MiB} MiB")]
    private static partial void LogLoaded(ILogger logger, string modelId, int slots, int slotContext, int threads, long miB);

    /// <summary>The caller's view of a queued or running sequence.</summary>
    internal sealed class Generation(Sequence sequence, BatchScheduler scheduler) : IGeneration
    {
        /// <summary>The generated token ids (complete once <see cref="Completion"/> has completed).</summary>
        internal IReadOnlyList<int> GeneratedTokenIds => sequence.GeneratedTokens;

        public int PromptTokens => sequence.PromptTokens.Length;

        public Task<GenerationOutcome> Completion => sequence.Completion.Task;

        public Task<PromptLogProbs?> PromptLogProbs => sequence.PromptScored.Task;

        public async IAsyncEnumerable<GenerationDelta> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            using var registration = cancellationToken.Register(Cancel);
            await foreach (var delta in sequence.Output.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return delta;
            }
        }

        public ValueTask DisposeAsync()
        {
            if (!sequence.Completion.Task.IsCompleted)
            {
                Cancel();
            }

            return ValueTask.CompletedTask;
        }

        public void RequestStop()
        {
            if (sequence.RequestStop())
            {
                scheduler.Wake();
            }
        }

        private void Cancel()
        {
            if (sequence.RequestCancel())
            {
                scheduler.Wake();
            }
        }
    }
}
