using System.Net;
using System.Text;
using System.Text.Json;

namespace InferenceMesh.Gateway.Tests.Fuzz;

/// <summary>
/// What the gateway promises for any input, checked on one answer: no 5xx but an overload's 503/429 with Retry-After; an
/// error in OpenAI's shape <c>{"error":{"message","type","param","code"}}</c> (every endpoint of the gateway uses it, ours
/// included); a JSON success that parses; no stack trace, exception name or path of this machine anywhere.
/// </summary>
internal sealed class FuzzVerdict(IReadOnlyList<string> machinePaths)
{
    private static readonly string[] Leaks = [".cs:line", "   at ", "Exception", "System.", "Microsoft."];

    /// <summary>
    /// A 503 that is not overload but a part the fuzzing gateway deliberately lacks: no BitTorrent engine is installed for it
    /// (share and pull answer <c>torrent_engine_unavailable</c>, which waiting does not cure, so no Retry-After).
    /// </summary>
    public const string TorrentEngineUnavailable = "torrent_engine_unavailable";

    /// <summary>Null when the answer keeps the promise, else what broke it.</summary>
    /// <param name="kestrelMayRefuse">The request line itself is hostile (e.g. <c>%00</c> in the path): Kestrel's bare 400 comes before the gateway (src/Gateway/README.md).</param>
    /// <param name="showsFolders">The endpoint names folders of this machine by design (<c>/health</c>).</param>
    public string? Judge(HttpResponseMessage response, byte[] body, bool kestrelMayRefuse = false, bool showsFolders = false)
    {
        var status = (int)response.StatusCode;
        var text = Encoding.UTF8.GetString(body);
        foreach (var leak in showsFolders ? Leaks : Leaks.Concat(machinePaths))
        {
            if (text.Contains(leak, StringComparison.Ordinal))
            {
                return $"the body holds '{leak}'";
            }
        }

        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (status < 400)
        {
            return mediaType == "application/json" && !Parses(body) ? "a success whose JSON body does not parse" : null;
        }

        if (kestrelMayRefuse && status == 400 && body.Length == 0)
        {
            return null;
        }

        if (mediaType != "application/json")
        {
            return $"an error with Content-Type '{mediaType}', not OpenAI's JSON error";
        }

        string? code;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (ErrorShape(document.RootElement, out code) is { } wrongShape)
            {
                return wrongShape;
            }
        }
        catch (JsonException)
        {
            return "an error body that is not JSON";
        }

        if (status >= 500)
        {
            var overload = status is 503 && response.Headers.RetryAfter is not null;
            if (!overload && !(status == 503 && code == TorrentEngineUnavailable))
            {
                return $"status {status}";
            }
        }

        if (status == (int)HttpStatusCode.TooManyRequests && response.Headers.RetryAfter is null)
        {
            return "a 429 without Retry-After";
        }

        return null;
    }

    /// <summary>Null when <paramref name="root"/> is <c>{"error":{"message": string, "type": string, "param": string|null, "code": string|null}}</c>.</summary>
    private static string? ErrorShape(JsonElement root, out string? code)
    {
        code = null;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
        {
            return "an error body without an 'error' object";
        }

        if (!error.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.String || message.GetString()!.Length == 0)
        {
            return "an error without a message";
        }

        if (!error.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return "an error without a type";
        }

        foreach (var name in (string[])["param", "code"])
        {
            if (!error.TryGetProperty(name, out var field) || field.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            {
                return $"an error whose '{name}' is missing or not a string or null";
            }
        }

        code = error.GetProperty("code").GetString();
        // The engine's name for what the gateway makes of response_format and tools: no client sends it.
        return error.GetProperty("param").ValueKind == JsonValueKind.String && error.GetProperty("param").GetString() == "grammar"
            ? "an error naming 'grammar', a field no request has"
            : null;
    }

    private static bool Parses(byte[] body)
    {
        try
        {
            using var _ = JsonDocument.Parse(body);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
