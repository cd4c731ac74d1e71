using System.Buffers;
using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// Explicit confidentiality markers, word-bounded, each with its own level:
/// <list type="bullet">
/// <item>Restricted: "top secret", "strictly confidential", and the labels SECRET and RESTRICTED.</item>
/// <item>Confidential: "confidential", "under NDA", "attorney-client", "legally privileged", "privileged and
/// confidential", "do not distribute/forward/disclose/share", and the label PRIVILEGED.</item>
/// <item>Internal: "internal only", "internal use only", "for internal use only".</item>
/// </list>
/// Phrases match in any case. The bare words secret, restricted and privileged are everyday English and code
/// ("the secret to", "restricted to", "--privileged"), so alone they count only as labels: in capitals, or after
/// "classification:" / "classified:" / "sensitivity:" in any case.
/// </summary>
internal sealed partial class ConfidentialityMarkerDetector : IDetector
{
    /// <summary>Every marker contains one of these; a vectorised search for them lets most prompts skip the regex.</summary>
    private static readonly SearchValues<string> Anchors = SearchValues.Create(
        ["secret", "confidential", "internal", "under nda", "under an nda", "under a nda", "under-nda", "under-an-nda", "under-a-nda",
         "attorney", "privileged", "do not", "do-not", "restricted", "classifi", "sensitivity"],
        StringComparison.OrdinalIgnoreCase);

    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        if (text.AsSpan().IndexOfAny(Anchors) < 0)
        {
            return;
        }

        foreach (var match in Marker().EnumerateMatches(text))
        {
            sink.Add(FindingKind.ConfidentialityMarker, match.Index, match.Length, LevelOf(text.AsSpan(match.Index, match.Length)));
        }
    }

    internal static PrivacyLevel LevelOf(ReadOnlySpan<char> marker)
    {
        if (marker.Contains("secret", StringComparison.OrdinalIgnoreCase)
            || marker.Contains("restricted", StringComparison.OrdinalIgnoreCase)
            || marker.StartsWith("strictly", StringComparison.OrdinalIgnoreCase))
        {
            return PrivacyLevel.Restricted;
        }

        return marker.Contains("internal", StringComparison.OrdinalIgnoreCase) ? PrivacyLevel.Internal : PrivacyLevel.Confidential;
    }

    [GeneratedRegex("""
        \b(?:
          (?i:
            top[ \-]secret
          | strictly[ \-]confidential
          | (?:for[ \-])?internal[ \-](?:use[ \-])?only
          | under[ \-](?:an?[ \-])?nda
          | attorney[ \-]client(?:[ \-]privileged?)?
          | legally[ \-]privileged
          | privileged[ \-](?:and|&)[ \-]confidential
          | do[ \-]not[ \-](?:distribute|forward|disclose|share)
          | confidential
          | (?:classification|classified|sensitivity)[ \t]{0,3}[:=][ \t]{0,3}(?:restricted|secret|privileged)
          )
        | SECRET
        | RESTRICTED
        | PRIVILEGED
        )\b
        """, RegexOptions.CultureInvariant | RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex Marker();
}
