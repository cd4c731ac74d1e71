using System.Buffers;
using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// Dutch citizen service numbers (BSN), validated with the 11-test. Nine bare digits pass the 11-test one
/// time in eleven, so a BSN is only taken right after its name ("BSN", "burgerservicenummer", "sofinummer").
/// </summary>
internal sealed partial class DutchBsnDetector : IDetector
{
    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        if (profile.DigitCount < 9 || profile.LongestDigitRun < 3 || text.AsSpan().IndexOfAny(Keywords) is var first && first < 0)
        {
            return;
        }

        Span<byte> digits = stackalloc byte[9];
        for (var m = WithKeyword().Match(text, first); m.Success; m = m.NextMatch())
        {
            var number = m.Groups[1];
            var n = 0;
            foreach (var c in text.AsSpan(number.Index, number.Length))
            {
                if (char.IsAsciiDigit(c))
                {
                    digits[n++] = (byte)(c - '0');
                }
            }

            if (n == 9 && Checksums.DutchElevenTest(digits))
            {
                sink.Add(FindingKind.NationalId, number.Index, number.Length);
            }
        }
    }

    private static readonly SearchValues<string> Keywords = SearchValues.Create(["bsn", "burgerservicenummer", "sofi"], StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"\b(?i:bsn|burgerservicenummer|sofi-?nummer)\b[^\d\r\n]{0,30}(\d{4}\.\d{2}\.\d{3}|\d{9})(?![\d\-]|\.\d)",
        RegexOptions.CultureInvariant)]
    private static partial Regex WithKeyword();
}
