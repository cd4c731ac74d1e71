namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// IBANs: a country from the length table, exactly that many characters (compact, or printed in groups of
/// four separated by single spaces), and ISO 13616 mod-97 equal to 1.
/// </summary>
internal sealed class IbanDetector : IDetector
{
    private const int MaxLength = 34;

    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        if (profile.DigitCount < 4)
        {
            return;
        }

        // Anchored on digit runs (vectorised search): an IBAN is two capitals and two check digits, not after a letter or digit.
        Span<char> compact = stackalloc char[MaxLength];
        var span = text.AsSpan();
        var position = 2;
        int offset;
        while (position < span.Length && (offset = span[position..].IndexOfAnyInRange('0', '9')) >= 0)
        {
            var i = position + offset;
            var start = i - 2;
            if (i + 1 < span.Length && char.IsAsciiDigit(span[i + 1])
                && char.IsAsciiLetterUpper(span[i - 1]) && char.IsAsciiLetterUpper(span[start])
                && (start == 0 || !char.IsAsciiLetterOrDigit(span[start - 1]))
                && TryRead(text, start, compact, out var end))
            {
                sink.Add(FindingKind.Iban, start, end - start);
                position = end;
                continue;
            }

            var run = span[i..].IndexOfAnyExceptInRange('0', '9');
            position = run < 0 ? span.Length : i + run;
        }
    }

    private static bool TryRead(string text, int start, Span<char> compact, out int end)
    {
        end = 0;
        var expected = IbanLengths.Of(text[start], text[start + 1]);
        if (expected == 0)
        {
            return false;
        }

        var spaced = start + 4 < text.Length && text[start + 4] == ' ';
        var count = 0;
        var i = start;
        for (; count < expected; i++)
        {
            if (i >= text.Length)
            {
                return false;
            }

            var c = text[i];
            if (c == ' ')
            {
                // printed form: one space after every group of four
                if (!spaced || count % 4 != 0 || text[i - 1] == ' ')
                {
                    return false;
                }

                continue;
            }

            if (!char.IsAsciiDigit(c) && c is not (>= 'A' and <= 'Z'))
            {
                return false;
            }

            compact[count++] = c;
        }

        if (i < text.Length && char.IsAsciiLetterOrDigit(text[i]))
        {
            return false; // longer than this country's IBAN
        }

        end = i;
        return Checksums.IbanMod97(compact[..count]);
    }
}

/// <summary>IBAN lengths by country (SWIFT IBAN registry), for the countries a European-first product meets.</summary>
internal static class IbanLengths
{
    private static readonly byte[] Table = Build();

    /// <summary>The IBAN length for a country code, or 0 when the country is not in the table.</summary>
    public static int Of(char first, char second) =>
        first is >= 'A' and <= 'Z' && second is >= 'A' and <= 'Z' ? Table[(first - 'A') * 26 + (second - 'A')] : 0;

    private static byte[] Build()
    {
        const string entries =
            "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 " +
            "ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 " +
            "LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 " +
            "RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 TN24 TR26 UA29 VG24 XK20";
        var table = new byte[26 * 26];
        foreach (var entry in entries.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            table[(entry[0] - 'A') * 26 + (entry[1] - 'A')] = byte.Parse(entry.AsSpan(2), provider: null);
        }

        return table;
    }
}
