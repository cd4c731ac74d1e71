namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>Limits of <see cref="AnthropicUpstreamClient"/>; every default lives in <see cref="AnthropicDefaults"/>.</summary>
public sealed record AnthropicUpstreamOptions
{
    /// <summary><c>max_tokens</c> sent when the client sets none. The default value is <see cref="AnthropicDefaults.MaxTokens"/> (4096).</summary>
    public int DefaultMaxTokens { get; init; } = AnthropicDefaults.MaxTokens;

    /// <summary>Time to get the response headers. The default value is 60 seconds.</summary>
    public TimeSpan ResponseHeadersTimeout { get; init; } = AnthropicDefaults.ResponseHeadersTimeout;

    /// <summary>Longest silence between two stream reads (an idle timeout, never a whole-stream one). The default value is 60 seconds.</summary>
    public TimeSpan StreamIdleTimeout { get; init; } = AnthropicDefaults.StreamIdleTimeout;

    /// <summary>Whole non-streamed request. The default value is 10 minutes.</summary>
    public TimeSpan RequestTimeout { get; init; } = AnthropicDefaults.RequestTimeout;

    /// <summary>Largest SSE event or error body. The default value is 1 MiB.</summary>
    public int MaxEventBytes { get; init; } = AnthropicDefaults.MaxEventBytes;

    /// <summary>Largest non-streamed response body. The default value is 16 MiB.</summary>
    public int MaxResponseBytes { get; init; } = AnthropicDefaults.MaxResponseBytes;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option (called by the client's constructor).</summary>
    public void Validate()
    {
        if (DefaultMaxTokens < 1) throw new ArgumentException($"{nameof(DefaultMaxTokens)} must be at least 1.");
        Positive(ResponseHeadersTimeout, nameof(ResponseHeadersTimeout));
        Positive(StreamIdleTimeout, nameof(StreamIdleTimeout));
        Positive(RequestTimeout, nameof(RequestTimeout));
        if (MaxEventBytes < 1024) throw new ArgumentException($"{nameof(MaxEventBytes)} must be at least 1024.");
        if (MaxResponseBytes < 1024) throw new ArgumentException($"{nameof(MaxResponseBytes)} must be at least 1024.");
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"{name} must be positive (or Timeout.InfiniteTimeSpan).");
        }
    }
}
