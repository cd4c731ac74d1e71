using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary><c>struct llama_token_data</c> (llama.h v0.5.0).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LlamaTokenData
{
    public int id;
    public float logit;
    public float p;
}
