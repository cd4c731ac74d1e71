namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>Every default of the Anthropic backend, in one place (see the folder's README).</summary>
public static class AnthropicDefaults
{
    /// <summary>The Messages API version sent in <c>anthropic-version</c>.</summary>
    public const string ApiVersion = "2023-06-01";

    /// <summary>
    /// <c>max_tokens</c> when the OpenAI request sets neither <c>max_completion_tokens</c> nor <c>max_tokens</c>
    /// (Anthropic requires it; OpenAI's default is "until the context ends"). 4096 is accepted by every
    /// current Claude model.
    /// </summary>
    public const int MaxTokens = 4096;

    /// <summary>The highest temperature Anthropic accepts; larger OpenAI values (up to 2) are clamped to it.</summary>
    public const double MaxTemperature = 1.0;

    /// <summary>
    /// The content of the user turn inserted when the conversation (after system messages) starts with an
    /// assistant turn: Anthropic requires the first message to be the user's. One character keeps the
    /// prompt's meaning intact.
    /// </summary>
    public const string LeadingUserPlaceholder = ".";

    /// <summary>Time to get the response headers (connect + upstream queueing). The default value is 60 seconds.</summary>
    public static readonly TimeSpan ResponseHeadersTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Longest silence between two reads of a stream (Anthropic pings every few seconds). The default value is 60 seconds.</summary>
    public static readonly TimeSpan StreamIdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Whole non-streamed request, body included. The default value is 10 minutes.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(10);

    /// <summary>TCP/TLS connect timeout of the default handler. The default value is 10 seconds.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Largest single SSE event or error body read from upstream. The default value is 1 MiB.</summary>
    public const int MaxEventBytes = 1 << 20;

    /// <summary>Largest non-streamed response body. The default value is 16 MiB.</summary>
    public const int MaxResponseBytes = 16 << 20;
}
