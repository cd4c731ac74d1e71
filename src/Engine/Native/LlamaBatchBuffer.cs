namespace InferenceMesh.Engine.Native;

/// <summary>
/// A token batch allocated by <c>llama_batch_init(capacity, 0, seqMax)</c> and freed by
/// <c>llama_batch_free</c>: fill it with <see cref="Add(int, int, int, bool)"/>, pass <see cref="Batch"/> to
/// <c>llama_decode</c>, <see cref="Clear"/> and reuse. Not thread-safe; the decode thread owns it.
/// </summary>
internal sealed unsafe class LlamaBatchBuffer : IDisposable
{
    private LlamaBatch _batch;
    private bool _disposed;

    /// <param name="capacity">Maximum tokens per batch (at most the context's n_batch to decode in one call).</param>
    /// <param name="seqMax">Maximum sequence ids per token.</param>
    public LlamaBatchBuffer(int capacity, int seqMax = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(seqMax, 1);
        _batch = LlamaNative.llama_batch_init(capacity, 0, seqMax);
        if (_batch.token is null)
        {
            throw new OutOfMemoryException($"llama_batch_init({capacity}, 0, {seqMax}) failed.");
        }

        Capacity = capacity;
        SeqMax = seqMax;
    }

    ~LlamaBatchBuffer() => Free();

    public int Capacity { get; }

    public int SeqMax { get; }

    public int Count => _batch.n_tokens;

    /// <summary>The native batch to pass to <c>llama_decode</c>; valid until the next change or disposal.</summary>
    public LlamaBatch Batch
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _batch;
        }
    }

    public void Clear() => _batch.n_tokens = 0;

    /// <summary>Appends a token of one sequence. wantLogits asks llama_decode to output its logits.</summary>
    public void Add(int token, int pos, int seqId, bool wantLogits)
    {
        var i = Reserve();
        _batch.token[i] = token;
        _batch.pos[i] = pos;
        _batch.n_seq_id[i] = 1;
        _batch.seq_id[i][0] = seqId;
        _batch.logits[i] = wantLogits ? (sbyte)1 : (sbyte)0;
        _batch.n_tokens = i + 1;
    }

    /// <summary>Appends a token shared by several sequences (e.g. a common prompt prefix).</summary>
    public void Add(int token, int pos, ReadOnlySpan<int> seqIds, bool wantLogits)
    {
        if (seqIds.Length is 0 || seqIds.Length > SeqMax)
        {
            throw new ArgumentOutOfRangeException(nameof(seqIds), seqIds.Length, $"Between 1 and {SeqMax} sequence ids per token.");
        }

        var i = Reserve();
        _batch.token[i] = token;
        _batch.pos[i] = pos;
        _batch.n_seq_id[i] = seqIds.Length;
        for (var s = 0; s < seqIds.Length; s++)
        {
            _batch.seq_id[i][s] = seqIds[s];
        }

        _batch.logits[i] = wantLogits ? (sbyte)1 : (sbyte)0;
        _batch.n_tokens = i + 1;
    }

    /// <summary>Sets whether the last added token outputs logits (typically: the last prompt token).</summary>
    public void SetLastLogits(bool wantLogits)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_batch.n_tokens == 0)
        {
            throw new InvalidOperationException("The batch is empty.");
        }

        _batch.logits[_batch.n_tokens - 1] = wantLogits ? (sbyte)1 : (sbyte)0;
    }

    /// <summary>Whether the token at index outputs logits.</summary>
    public bool WantsLogits(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _batch.n_tokens);
        return _batch.logits[index] != 0;
    }

    /// <summary>The sequence ids of the token at index.</summary>
    public int[] GetSeqIds(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _batch.n_tokens);
        return new ReadOnlySpan<int>(_batch.seq_id[index], _batch.n_seq_id[index]).ToArray();
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private int Reserve()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var i = _batch.n_tokens;
        if (i >= Capacity)
        {
            throw new InvalidOperationException($"The batch is full ({Capacity} tokens).");
        }

        return i;
    }

    private void Free()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        LlamaNative.llama_batch_free(_batch);
        _batch = default;
    }
}
