namespace InferenceMesh.Gateway.Backends.Anthropic;

public static class AnthropicUpstreamOptionsExtensions
{
    /// <summary>The Anthropic client's limits taken from the remote backends' shared options (idle timeout, first byte, body and event sizes).</summary>
    public static AnthropicUpstreamOptions ToAnthropicOptions(this BackendOptions options) => new()
    {
        ResponseHeadersTimeout = options.FirstByteTimeout,
        StreamIdleTimeout = options.StreamIdleTimeout,
        MaxEventBytes = options.MaxEventBytes,
        MaxResponseBytes = options.MaxResponseBytes,
    };
}
