using System.Buffers;
using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// US Social Security numbers: "123-45-6789" or "123 45 6789" anywhere, nine bare digits only right after
/// "SSN" / "social security number". SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000.
/// </summary>
internal sealed partial class UsSsnDetector : IDetector
{
    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        if (profile.DigitCount < 9 || profile.LongestDigitRun < 3)
        {
            return;
        }

        foreach (var match in Separated().EnumerateMatches(text))
        {
            var s = text.AsSpan(match.Index, match.Length);
            if (IsValid(s[..3], s.Slice(4, 2), s.Slice(7, 4)))
            {
                sink.Add(FindingKind.NationalId, match.Index, match.Length);
            }
        }

        if (profile.LongestDigitRun < 9 || text.AsSpan().IndexOfAny(Keywords) is var first && first < 0)
        {
            return;
        }

        for (var m = WithKeyword().Match(text, first); m.Success; m = m.NextMatch())
        {
            var number = m.Groups[1];
            var s = text.AsSpan(number.Index, number.Length);
            if (IsValid(s[..3], s.Slice(3, 2), s.Slice(5, 4)) && !sink.Overlaps(FindingKind.NationalId, number.Index, number.Length))
            {
                sink.Add(FindingKind.NationalId, number.Index, number.Length);
            }
        }
    }

    private static readonly SearchValues<string> Keywords = SearchValues.Create(["ssn", "social"], StringComparison.OrdinalIgnoreCase);

    internal static bool IsValid(ReadOnlySpan<char> area, ReadOnlySpan<char> group, ReadOnlySpan<char> serial) =>
        area is not "000" and not "666" && area[0] != '9' && group is not "00" && serial is not "0000";

    [GeneratedRegex(@"(?<![\w\-.])\d{3}([\- ])\d{2}\1\d{4}(?![\w\-]|\.\d)", RegexOptions.CultureInvariant)]
    private static partial Regex Separated();

    [GeneratedRegex(@"\b(?i:ssn|social[ \t]+security(?:[ \t]+(?:number|no\.?|#))?)[ \t]{0,3}[:#=]?[ \t]{0,3}(\d{9})(?![\w\-])",
        RegexOptions.CultureInvariant)]
    private static partial Regex WithKeyword();
}
