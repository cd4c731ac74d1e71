using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary><c>struct llama_token_data_array</c> (llama.h v0.5.0). Samplers may replace <see cref="data"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct LlamaTokenDataArray
{
    public LlamaTokenData* data;
    public nuint size;

    /// <summary>Index into <see cref="data"/> (not a token id) of the selected token.</summary>
    public long selected;

    public LlamaBool sorted;
}
