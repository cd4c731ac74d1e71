using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// Payment card numbers: 13-19 digits, contiguous or in groups separated by single spaces or dashes
/// (one kind per number), a known issuer prefix with its lengths, and a valid Luhn digit. A rejected
/// grouped candidate is retried from its next group, so "2024 4111 1111 1111 1111" still finds the card.
/// </summary>
internal sealed partial class PaymentCardDetector : IDetector
{
    private const int MinDigits = 13;
    private const int MaxDigits = 19;
    private const int MaxGroups = MaxDigits;

    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        if (profile.DigitCount < MinDigits)
        {
            return;
        }

        Span<int> groupStart = stackalloc int[MaxGroups];
        Span<int> groupEnd = stackalloc int[MaxGroups];
        Span<byte> digits = stackalloc byte[MaxDigits];
        var position = 0;
        while (RegexScan.Next(Candidate(), text, position, out var index, out var length))
        {
            var groups = SplitGroups(text.AsSpan(index, length), index, groupStart, groupEnd);
            if (TryFindCard(text, groups, groupStart, groupEnd, digits, out var first, out var last))
            {
                sink.Add(FindingKind.PaymentCard, groupStart[first], groupEnd[last] - groupStart[first]);
                position = groupEnd[last];
            }
            else
            {
                // retry from the next group, where a card may start after a leading year or code
                position = groups > 1 ? groupStart[1] : index + length;
            }
        }
    }

    private static int SplitGroups(ReadOnlySpan<char> candidate, int offset, Span<int> starts, Span<int> ends)
    {
        var count = 0;
        var inGroup = false;
        for (var i = 0; i < candidate.Length; i++)
        {
            if (char.IsAsciiDigit(candidate[i]))
            {
                if (!inGroup)
                {
                    starts[count] = offset + i;
                    inGroup = true;
                }

                ends[count] = offset + i + 1;
            }
            else if (inGroup)
            {
                count++;
                inGroup = false;
            }
        }

        return inGroup ? count + 1 : count;
    }

    /// <summary>The longest run of groups, earliest first, that forms a valid card.</summary>
    private static bool TryFindCard(string text, int groups, ReadOnlySpan<int> starts, ReadOnlySpan<int> ends, Span<byte> digits,
        out int first, out int last)
    {
        for (first = 0; first < groups; first++)
        {
            for (last = groups - 1; last >= first; last--)
            {
                if (IsCard(text, first, last, starts, ends, digits))
                {
                    return true;
                }
            }

            if (groups == 1)
            {
                break;
            }
        }

        first = last = 0;
        return false;
    }

    private static bool IsCard(string text, int first, int last, ReadOnlySpan<int> starts, ReadOnlySpan<int> ends, Span<byte> digits)
    {
        var count = 0;
        for (var g = first; g <= last; g++)
        {
            var length = ends[g] - starts[g];
            count += length;
            if (count > MaxDigits)
            {
                return false;
            }

            if (first != last)
            {
                // printed groups: the first of four digits, inner ones of 4-6, the last of 1-6
                var shapeOk = g == first ? length == 4 : g == last ? length <= 6 : length is >= 4 and <= 6;
                if (!shapeOk || (g > first && text[starts[g] - 1] != text[starts[first + 1] - 1]))
                {
                    return false; // mixed separators
                }
            }
        }

        if (count < MinDigits)
        {
            return false;
        }

        var n = 0;
        for (var g = first; g <= last; g++)
        {
            for (var i = starts[g]; i < ends[g]; i++)
            {
                digits[n++] = (byte)(text[i] - '0');
            }
        }

        var number = digits[..n];
        return IsKnownIssuer(number) && Checksums.Luhn(number);
    }

    /// <summary>Issuer identification number ranges of the major networks, with their lengths.</summary>
    internal static bool IsKnownIssuer(ReadOnlySpan<byte> d)
    {
        var length = d.Length;
        if (length < MinDigits)
        {
            return false;
        }

        var p2 = d[0] * 10 + d[1];
        var p3 = p2 * 10 + d[2];
        var p4 = p3 * 10 + d[3];
        var p6 = p4 * 100 + d[4] * 10 + d[5];
        return d[0] switch
        {
            4 => length is 13 or 16 or 19,                                                        // Visa
            2 when p4 is >= 2221 and <= 2720 => length == 16,                                     // Mastercard 2-series
            2 when p4 is >= 2200 and <= 2204 => length is >= 16 and <= 19,                         // Mir
            5 when p2 is >= 51 and <= 55 => length == 16,                                         // Mastercard
            5 when p4 is 5018 or 5020 or 5038 or 5893 => length is >= 13 and <= 19,                // Maestro
            3 when p2 is 34 or 37 => length == 15,                                                // American Express
            3 when p4 is >= 3528 and <= 3589 => length is >= 16 and <= 19,                         // JCB
            3 when p3 is >= 300 and <= 305 || p4 == 3095 || p2 is 36 or 38 or 39 => length is >= 14 and <= 19, // Diners Club
            6 when p4 == 6011 || p3 is >= 644 and <= 649 || p2 == 65 || p6 is >= 622126 and <= 622925
                => length is >= 16 and <= 19,                                                     // Discover
            6 when p2 == 62 => length is >= 16 and <= 19,                                         // UnionPay
            6 when p4 is 6304 or 6759 or 6761 or 6762 or 6763 => length is >= 13 and <= 19,        // Maestro
            _ => false,
        };
    }

    // Not after a digit, decimal point, identifier ("ID4111…") or "ORD-"-style prefix; not before more digits or decimals.
    [GeneratedRegex(@"(?<![\w.,]|[A-Za-z]-)\d{4}(?:[ \-]?\d){9,15}(?!\d|[.,]\d)", RegexOptions.CultureInvariant)]
    private static partial Regex Candidate();
}
