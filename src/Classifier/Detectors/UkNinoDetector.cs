using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// UK National Insurance numbers, "AB 12 34 56 C" or "AB123456C": HMRC's allowed prefix letters
/// (first not D, F, I, Q, U, V; second not D, F, I, O, Q, U, V; never BG, GB, KN, NK, NT, TN, ZZ)
/// and a suffix A-D.
/// </summary>
internal sealed partial class UkNinoDetector : IDetector
{
    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        if (profile.DigitCount < 6)
        {
            return;
        }

        foreach (var match in Candidate().EnumerateMatches(text))
        {
            var prefix = text.AsSpan(match.Index, 2);
            if (prefix is not ("BG" or "GB" or "KN" or "NK" or "NT" or "TN" or "ZZ"))
            {
                sink.Add(FindingKind.NationalId, match.Index, match.Length);
            }
        }
    }

    [GeneratedRegex(@"(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])",
        RegexOptions.CultureInvariant)]
    private static partial Regex Candidate();
}
