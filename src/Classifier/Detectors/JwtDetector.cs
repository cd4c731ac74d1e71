using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// JSON Web Tokens: three base64url segments (the signature may be empty for "alg":"none") whose header decodes to a
/// JSON object with an "alg" member. The header always starts with "eyJ" (base64 of '{"'), which the regex engine
/// searches for directly.
/// </summary>
internal sealed partial class JwtDetector : IDetector
{
    private const int MaxHeaderChars = 1024;

    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        foreach (var match in Candidate().EnumerateMatches(text))
        {
            var token = text.AsSpan(match.Index, match.Length);
            if (HeaderHasAlg(token[..token.IndexOf('.')]))
            {
                sink.Add(FindingKind.Jwt, match.Index, match.Length);
            }
        }
    }

    internal static bool HeaderHasAlg(ReadOnlySpan<char> header)
    {
        if (header.Length > MaxHeaderChars)
        {
            return false;
        }

        Span<byte> json = stackalloc byte[MaxHeaderChars];
        if (Base64Url.DecodeFromChars(header, json, out _, out var written) != OperationStatus.Done)
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(json[..written]);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("alg"u8))
                {
                    return reader.Read() && reader.TokenType == JsonTokenType.String;
                }

                reader.Skip(); // past the value, nested objects and arrays included
            }

            return false;
        }
        catch (JsonException)
        {
            return false; // not JSON: not a JWT header
        }
    }

    [GeneratedRegex(@"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{5,1021}\.[A-Za-z0-9_\-]{2,16384}\.[A-Za-z0-9_\-]{0,4096}(?![A-Za-z0-9_\-])",
        RegexOptions.CultureInvariant)]
    private static partial Regex Candidate();
}
