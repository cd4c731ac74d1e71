using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// Owns a <c>llama_sampler*</c> (usually a chain); release calls <c>llama_sampler_free</c>, which for a
/// chain also frees every sampler added to it. Samplers added to a chain are owned by the chain:
/// <see cref="Add(IntPtr)"/> hands a raw <c>llama_sampler_init_*</c> result straight to the chain, and
/// <see cref="Add(SafeLlamaSamplerHandle)"/> moves ownership out of a standalone handle, so that only the
/// chain handle ever frees. Not thread-safe.
/// </summary>
internal sealed class SafeLlamaSamplerHandle : SafeHandle
{
    /// <summary>For the interop marshaller only; use <see cref="CreateChain"/> or <see cref="Own"/>.</summary>
    public SafeLlamaSamplerHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Creates an empty chain (defaults from llama_sampler_chain_default_params when none are given).</summary>
    public static SafeLlamaSamplerHandle CreateChain(LlamaSamplerChainParams? parameters = null)
    {
        var chain = LlamaNative.llama_sampler_chain_init(parameters ?? LlamaNative.llama_sampler_chain_default_params());
        if (chain == IntPtr.Zero)
        {
            throw new InvalidOperationException("llama_sampler_chain_init returned NULL.");
        }

        return Own(chain);
    }

    /// <summary>Wraps a standalone sampler (a <c>llama_sampler_init_*</c> result) that nobody else owns.</summary>
    public static SafeLlamaSamplerHandle Own(IntPtr sampler)
    {
        if (sampler == IntPtr.Zero)
        {
            throw new ArgumentException("The sampler is NULL (its llama_sampler_init_* call failed).", nameof(sampler));
        }

        var result = new SafeLlamaSamplerHandle();
        result.SetHandle(sampler);
        return result;
    }

    /// <summary>
    /// Adds a raw sampler to this chain, which takes ownership of it. A NULL sampler (a failed
    /// <c>llama_sampler_init_*</c>) is rejected with an exception. Returns this chain for fluent building.
    /// </summary>
    public SafeLlamaSamplerHandle Add(IntPtr sampler)
    {
        if (sampler == IntPtr.Zero)
        {
            throw new ArgumentException("The sampler is NULL (its llama_sampler_init_* call failed).", nameof(sampler));
        }

        LlamaNative.llama_sampler_chain_add(this, sampler);
        return this;
    }

    /// <summary>Moves a standalone sampler into this chain: the given handle becomes invalid and never frees.</summary>
    public SafeLlamaSamplerHandle Add(SafeLlamaSamplerHandle sampler)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        var addedRef = false;
        sampler.DangerousAddRef(ref addedRef);
        try
        {
            LlamaNative.llama_sampler_chain_add(this, sampler.DangerousGetHandle());
            sampler.SetHandleAsInvalid();
        }
        finally
        {
            if (addedRef)
            {
                sampler.DangerousRelease();
            }
        }

        return this;
    }

    protected override bool ReleaseHandle()
    {
        LlamaNative.llama_sampler_free(handle);
        return true;
    }
}
