using InferenceMesh.Engine.Native;

namespace InferenceMesh.Engine.Scheduling;

internal sealed partial class BatchScheduler
{
    private LlamaBatchBuffer? _embeddingBatch;
    private bool _embeddingContextFailed;
    private int _embeddingThreads;

    /// <summary>Largest input (in tokens) the embedding context takes; inputs are packed up to this many tokens per decode.</summary>
    public int EmbeddingContextLength => Math.Min(_settings.SlotContextLength, EmbeddingLimits.MaxTokensPerDecode);

    /// <summary>
    /// Runs the queued embedding jobs on the embedding context (mean pooling), packing as many inputs
    /// into each decode as fit. Runs on the scheduler thread between generation steps.
    /// </summary>
    private void RunEmbeddingJobs()
    {
        if (_embeddingContext is null && !_embeddingContextFailed)
        {
            _embeddingContext = _embeddingContextFactory();
            _embeddingContextFailed = _embeddingContext is null;
        }

        while (_embeddingJobs.TryDequeue(out var job))
        {
            if (_embeddingContext is null)
            {
                job.Completion.TrySetResult(EngineResult<EmbeddingResult>.Fail(EngineError.ModelLoadFailed, $"Model '{_settings.ModelId}' cannot produce embeddings."));
                continue;
            }

            if (job.CancellationToken.IsCancellationRequested)
            {
                job.Completion.TrySetResult(EngineResult<EmbeddingResult>.Fail(EngineError.Cancelled, "The request was cancelled."));
                continue;
            }

            job.Completion.TrySetResult(Embed(_embeddingContext, job.Inputs));
        }
    }

    private EngineResult<EmbeddingResult> Embed(SafeLlamaContextHandle context, int[][] inputs)
    {
        var capacity = (int)LlamaNative.llama_n_batch(context);
        var maxSequences = (int)LlamaNative.llama_n_seq_max(context);
        var dimensions = LlamaNative.llama_model_n_embd(_model);
        var memory = LlamaNative.llama_get_memory(context);
        _embeddingBatch ??= new LlamaBatchBuffer(capacity, maxSequences);

        var vectors = new float[inputs.Length][];
        var promptTokens = 0;
        var next = 0;
        while (next < inputs.Length)
        {
            _embeddingBatch.Clear();
            var first = next;
            while (next < inputs.Length && next - first < maxSequences && _embeddingBatch.Count + inputs[next].Length <= capacity)
            {
                var tokens = inputs[next];
                for (var position = 0; position < tokens.Length; position++)
                {
                    _embeddingBatch.Add(tokens[position], position, next - first, true);
                }

                promptTokens += tokens.Length;
                next++;
            }

            SetDecodeThreads(context, ref _embeddingThreads, CurrentDecodeThreads);
            var result = LlamaNative.llama_decode(context, _embeddingBatch.Batch);
            if (result != 0)
            {
                LlamaNative.llama_memory_clear(memory, true);
                LogDecodeFailed(_logger, _settings.ModelId, result, _embeddingBatch.Count);
                return EngineResult<EmbeddingResult>.Fail(EngineError.DecodeFailed, $"The local model failed to compute embeddings (llama_decode returned {result}).");
            }

            for (var i = first; i < next; i++)
            {
                var vector = new float[dimensions];
                unsafe
                {
                    var pooled = LlamaNative.llama_get_embeddings_seq(context, i - first);
                    if (pooled == null)
                    {
                        LlamaNative.llama_memory_clear(memory, true);
                        return EngineResult<EmbeddingResult>.Fail(EngineError.DecodeFailed, "The local model returned no pooled embedding.");
                    }

                    new ReadOnlySpan<float>(pooled, dimensions).CopyTo(vector);
                }

                Normalize(vector);

                vectors[i] = vector;
            }

            LlamaNative.llama_memory_clear(memory, true);
        }

        return EngineResult<EmbeddingResult>.Ok(new EmbeddingResult(vectors, promptTokens));
    }

    private static void Normalize(float[] vector)
    {
        double sum = 0;
        foreach (var value in vector)
        {
            sum += (double)value * value;
        }

        if (sum > 0)
        {
            var scale = (float)(1 / Math.Sqrt(sum));
            for (var i = 0; i < vector.Length; i++)
            {
                vector[i] *= scale;
            }
        }
    }
}

internal static class EmbeddingLimits
{
    /// <summary>Tokens per embedding decode (and so the longest input). The default value is 2048.</summary>
    public const int MaxTokensPerDecode = 2048;

    /// <summary>Inputs packed into one embedding decode. The default value is 16.</summary>
    public const int MaxSequencesPerDecode = 16;
}
