using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary><c>struct llama_logit_bias</c> (llama.h v0.5.0).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LlamaLogitBias
{
    public int token;
    public float bias;
}
