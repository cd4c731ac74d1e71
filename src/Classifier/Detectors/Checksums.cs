namespace InferenceMesh.Classifier.Detectors;

/// <summary>The check-digit algorithms the detectors validate with. Inputs are digit values (0-9), not chars.</summary>
internal static class Checksums
{
    /// <summary>Luhn (mod 10), as on payment cards.</summary>
    public static bool Luhn(ReadOnlySpan<byte> digits)
    {
        var sum = 0;
        var doubleIt = false;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            int d = digits[i];
            if (doubleIt)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }

            sum += d;
            doubleIt = !doubleIt;
        }

        return sum % 10 == 0;
    }

    /// <summary>ISO 13616 mod-97 of an IBAN written without spaces, upper case: valid when the remainder is 1.</summary>
    public static bool IbanMod97(ReadOnlySpan<char> iban)
    {
        if (iban.Length < 5)
        {
            return false;
        }

        var remainder = 0;
        for (var i = 0; i < iban.Length; i++)
        {
            // the first four chars (country, check digits) move to the end
            var c = iban[(i + 4) % iban.Length];
            if (char.IsAsciiDigit(c))
            {
                remainder = (remainder * 10 + (c - '0')) % 97;
            }
            else if (c is >= 'A' and <= 'Z')
            {
                remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
            }
            else
            {
                return false;
            }
        }

        return remainder == 1;
    }

    /// <summary>The Dutch "11-test" (elfproef) of a BSN: 9·d1 + 8·d2 + … + 2·d8 − 1·d9 is a non-zero multiple of 11.</summary>
    public static bool DutchElevenTest(ReadOnlySpan<byte> nineDigits)
    {
        if (nineDigits.Length != 9)
        {
            return false;
        }

        var sum = 0;
        for (var i = 0; i < 8; i++)
        {
            sum += (9 - i) * nineDigits[i];
        }

        sum -= nineDigits[8];
        return sum != 0 && sum % 11 == 0;
    }

    private const string DniLetters = "TRWAGMYFPDXBNJZSQVHLCKE";

    /// <summary>The control letter of a Spanish DNI/NIE number (NIE's X/Y/Z already replaced by 0/1/2).</summary>
    public static char SpanishDniLetter(int number) => DniLetters[number % 23];
}
