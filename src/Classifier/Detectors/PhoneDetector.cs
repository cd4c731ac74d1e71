using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// Phone numbers in international form (E.164 with a leading '+', optional single separators ' ', '-', '.',
/// one optional parenthesised group) and the two unambiguous North American forms "(415) 555-2671" and
/// "415-555-2671". Plain digit runs without '+' are never phones, which keeps order numbers, dates and
/// versions out.
/// </summary>
internal sealed partial class PhoneDetector : IDetector
{
    private const int MinDigits = 8;   // country code + a short subscriber number
    private const int MaxDigits = 15;  // E.164
    private const int MaxSpan = 32;

    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        if (profile.DigitCount < MinDigits)
        {
            return;
        }

        var position = 0;
        int plus;
        while (position < text.Length && (plus = text.IndexOf('+', position)) >= 0)
        {
            position = plus + 1;
            if (TryScanInternational(text, plus, out var end))
            {
                sink.Add(FindingKind.Phone, plus, end - plus);
                position = end;
            }
        }

        if (profile.DigitCount < 10)
        {
            return;
        }

        foreach (var match in NorthAmerican().EnumerateMatches(text))
        {
            if (!sink.Overlaps(FindingKind.Phone, match.Index, match.Length))
            {
                sink.Add(FindingKind.Phone, match.Index, match.Length);
            }
        }
    }

    /// <summary>Walks from '+' while the shape holds; the number ends at its last digit.</summary>
    internal static bool TryScanInternational(string text, int plus, out int end)
    {
        end = 0;
        if (plus > 0 && (RegexScan.IsWordChar(text[plus - 1]) || text[plus - 1] == '+'))
        {
            return false; // "a+12345678", "C++1234..."
        }

        var i = plus + 1;
        if (i >= text.Length || text[i] is < '1' or > '9')
        {
            return false; // country codes never start with 0
        }

        Span<int> groups = stackalloc int[8];
        var groupCount = 0;
        var groupLength = 0;
        var digits = 0;
        var lastDigitEnd = -1;
        var openParen = false;
        var usedParen = false;
        var separatorKind = '\0';
        var previous = '+';
        var limit = Math.Min(text.Length, plus + MaxSpan);
        for (; i < limit; i++)
        {
            var c = text[i];
            if (char.IsAsciiDigit(c))
            {
                if (++digits > MaxDigits)
                {
                    return false; // a long number after '+', not a phone
                }

                groupLength++;
                lastDigitEnd = i + 1;
                previous = c;
                continue;
            }

            if (groupLength > 0)
            {
                if (groupCount == groups.Length)
                {
                    return false;
                }

                groups[groupCount++] = groupLength;
                groupLength = 0;
            }

            if (c is ' ' or '-' or '.')
            {
                if (previous is ' ' or '-' or '.' or '(')
                {
                    break;
                }

                separatorKind = separatorKind == '\0' || separatorKind == c ? c : '*';
                previous = c;
            }
            else if (c == '(' && !usedParen && previous is ' ' or '-' or '.' or >= '0' and <= '9')
            {
                usedParen = openParen = true;
                previous = c;
            }
            else if (c == ')' && openParen && char.IsAsciiDigit(previous))
            {
                openParen = false;
                previous = c;
            }
            else
            {
                break;
            }
        }

        if (groupLength > 0)
        {
            if (groupCount == groups.Length)
            {
                return false;
            }

            groups[groupCount++] = groupLength;
        }

        if (lastDigitEnd < 0 || digits is < MinDigits or > MaxDigits)
        {
            return false;
        }

        // the number must not run on into a word or more digits
        if (lastDigitEnd < text.Length && (RegexScan.IsWordChar(text[lastDigitEnd]) || (i == limit && char.IsAsciiDigit(text[lastDigitEnd]))))
        {
            return false;
        }

        // an unclosed '(' inside the number ("+1 (415 555") is not a phone shape
        var paren = text.AsSpan(plus, lastDigitEnd - plus);
        var open = paren.IndexOf('(');
        if (open >= 0 && paren[open..].IndexOf(')') < 0)
        {
            return false;
        }

        var used = groups[..groupCount];
        var singleDigitGroups = 0;
        foreach (var g in used)
        {
            if (g == 1)
            {
                singleDigitGroups++;
            }
        }

        if (singleDigitGroups > 2)
        {
            return false; // "+1.2.3.4.5.6.7.8"
        }

        // "+2024-01-15" is a signed date, not a phone
        if (used.Length == 3 && used[0] == 4 && used[1] == 2 && used[2] == 2 && separatorKind == '-')
        {
            return false;
        }

        end = lastDigitEnd;
        return true;
    }

    [GeneratedRegex(@"(?<![\w\-.(+])(?:\([2-9]\d{2}\)[ ]?[2-9]\d{2}[\-. ]\d{4}|[2-9]\d{2}([\-.])[2-9]\d{2}\1\d{4})(?![\w\-]|\.\d)",
        RegexOptions.CultureInvariant)]
    private static partial Regex NorthAmerican();
}
