using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// Spanish DNI ("12345678Z") and NIE ("X1234567L") numbers, validated by their control letter
/// (number mod 23; an NIE's X/Y/Z counts as 0/1/2).
/// </summary>
internal sealed partial class SpanishDniDetector : IDetector
{
    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        if (profile.LongestDigitRun < 7)
        {
            return;
        }

        foreach (var match in Candidate().EnumerateMatches(text))
        {
            var s = text.AsSpan(match.Index, match.Length);
            var number = s[0] switch { 'X' => 0, 'Y' => 1, 'Z' => 2, _ => s[0] - '0' };
            var digitCount = 1;
            for (var i = 1; i < s.Length && char.IsAsciiDigit(s[i]); i++, digitCount++)
            {
                number = number * 10 + (s[i] - '0');
            }

            if (digitCount == 8 && s[^1] == Checksums.SpanishDniLetter(number))
            {
                sink.Add(FindingKind.NationalId, match.Index, match.Length);
            }
        }
    }

    // DNI: 8 digits; NIE: X, Y or Z then 7 digits. An optional dash before the (upper case) letter.
    [GeneratedRegex(@"(?<![A-Za-z0-9\-])(?:\d{8}|[XYZ]\d{7})-?[A-HJ-NP-TV-Z](?![A-Za-z0-9])", RegexOptions.CultureInvariant)]
    private static partial Regex Candidate();
}
