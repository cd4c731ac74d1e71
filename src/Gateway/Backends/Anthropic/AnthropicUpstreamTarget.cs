using System.Text;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// Where and as whom one call goes: the backend's name (for logs), its base URL (the Messages endpoint is
/// <c>{BaseUrl}/v1/messages</c>; a base URL already ending in <c>/v1</c> gets <c>/messages</c>), the key from
/// the backend's key resolver (sent only as <c>x-api-key</c>; <see cref="ToString"/> never shows it), and
/// the upstream model name.
/// </summary>
public sealed record AnthropicUpstreamTarget(string BackendName, Uri BaseUrl, string? ApiKey, string Model)
{
    /// <summary>The Messages endpoint for <see cref="BaseUrl"/>.</summary>
    public Uri MessagesUri => Endpoint("messages");

    /// <summary>The model list (the circuit probe: no prompt).</summary>
    public Uri ModelsUri => Endpoint("models");

    private Uri Endpoint(string name)
    {
        var path = BaseUrl.AbsolutePath.TrimEnd('/');
        var builder = new UriBuilder(BaseUrl)
        {
            Path = (path.EndsWith("/v1", StringComparison.Ordinal) ? path : path + "/v1") + "/" + name,
            Query = string.Empty,
            Fragment = string.Empty,
        };
        return builder.Uri;
    }

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("BackendName = ").Append(BackendName)
            .Append(", BaseUrl = ").Append(BaseUrl)
            .Append(", ApiKey = ").Append(ApiKey is null ? "(none)" : "(set)")
            .Append(", Model = ").Append(Model);
        return true;
    }
}
