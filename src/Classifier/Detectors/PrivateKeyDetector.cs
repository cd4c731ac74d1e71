using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// PEM and PGP private keys ("-----BEGIN [RSA |EC |OPENSSH |ENCRYPTED |PGP ]PRIVATE KEY[ BLOCK]-----"). The span
/// runs to the matching END line, or over the base64 lines that follow when the key was pasted without it.
/// </summary>
internal sealed partial class PrivateKeyDetector : IDetector
{
    private const int MaxKeyChars = 64 * 1024;

    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        var position = 0;
        var nextEnd = -1; // index of the next "-----END", searched once per step forward, so repeated BEGINs stay linear
        while (RegexScan.Next(Begin(), text, position, out var index, out var length))
        {
            var headerEnd = index + length;
            if (nextEnd != int.MaxValue && nextEnd < headerEnd)
            {
                nextEnd = text.IndexOf("-----END", headerEnd, StringComparison.Ordinal);
                if (nextEnd < 0)
                {
                    nextEnd = int.MaxValue;
                }
            }

            var end = nextEnd != int.MaxValue && nextEnd - headerEnd <= MaxKeyChars ? EndOfEndLine(text, nextEnd) : EndOfBody(text, headerEnd);
            sink.Add(FindingKind.PrivateKey, index, end - index);
            position = end;
        }
    }

    private static int EndOfEndLine(string text, int endMarker)
    {
        var close = text.IndexOf("-----", endMarker + 8, Math.Min(80, text.Length - endMarker - 8), StringComparison.Ordinal);
        return close < 0 ? endMarker + 8 : close + 5;
    }

    /// <summary>The end of the base64 lines after the header: a blank line or any other char ends the body.</summary>
    private static int EndOfBody(string text, int headerEnd)
    {
        var limit = Math.Min(text.Length, headerEnd + MaxKeyChars);
        var lastBody = headerEnd;
        var i = headerEnd;
        var lineHasBody = false;
        while (i < limit)
        {
            var c = text[i];
            if (c == '\n')
            {
                if (!lineHasBody && i > headerEnd + 1)
                {
                    break; // blank line
                }

                lineHasBody = false;
            }
            else if (char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=')
            {
                lineHasBody = true;
            }
            else if (c != '\r')
            {
                // prose on this line: the body ended at the previous line break
                return lastBody;
            }

            i++;
            if (lineHasBody && (i == limit || text[i] is '\r' or '\n'))
            {
                lastBody = i;
            }
        }

        return lastBody;
    }

    [GeneratedRegex(@"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----", RegexOptions.CultureInvariant)]
    private static partial Regex Begin();
}
