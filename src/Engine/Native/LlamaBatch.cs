using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// <c>struct llama_batch</c> (llama.h v0.5.0): the input of llama_decode / llama_encode.
/// Allocate through <see cref="LlamaBatchBuffer"/> rather than by hand.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct LlamaBatch
{
    public int n_tokens;
    public int* token;
    public float* embd;
    public int* pos;
    public int* n_seq_id;
    public int** seq_id;

    /// <summary>Per token: non-zero to output logits (or embeddings) for it.</summary>
    public sbyte* logits;
}
