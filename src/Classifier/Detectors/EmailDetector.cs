using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// E-mail addresses (RFC 5321 sizes: local part ≤ 64, labels ≤ 63). Each '@' is found with a vectorised
/// search, then the anchored pattern runs once from the start of its local part, so prose without '@'
/// costs one scan and hostile input stays linear.
/// </summary>
internal sealed partial class EmailDetector : IDetector
{
    private const int MaxLocalPart = 64;

    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        var position = 0;
        int at;
        while (position < text.Length && (at = text.IndexOf('@', position)) >= 0)
        {
            position = at + 1;
            var start = at;
            while (start > 0 && at - start < MaxLocalPart && IsLocalChar(text[start - 1]))
            {
                start--;
            }

            if (start == at || (start > 0 && IsLocalChar(text[start - 1])))
            {
                continue; // nothing before '@', or a local part longer than 64
            }

            if (!RegexScan.Next(Anchored(), text, start, out var index, out var length) || index != start)
            {
                continue;
            }

            var local = text.AsSpan(start, at - start);
            if (local[0] == '.' || local[^1] == '.' || local.IndexOf("..", StringComparison.Ordinal) >= 0)
            {
                continue;
            }

            sink.Add(FindingKind.Email, start, length);
            position = start + length;
        }
    }

    private static bool IsLocalChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '%' or '+' or '-';

    // \G: anchored where the scan starts. Domain: 1-8 labels, then an alphabetic TLD not followed by more host.
    [GeneratedRegex(@"\G[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-]|\.[A-Za-z0-9])",
        RegexOptions.CultureInvariant)]
    private static partial Regex Anchored();
}
