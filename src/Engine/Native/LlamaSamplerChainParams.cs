using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// <c>struct llama_sampler_chain_params</c> (llama.h v0.5.0). Start from
/// <see cref="LlamaNative.llama_sampler_chain_default_params"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LlamaSamplerChainParams
{
    public LlamaBool no_perf;
}
