using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// IPv4 (dotted quad, octets 0-255 without leading zeros, not after "v"/"version") and IPv6 (anything
/// <see cref="IPAddress.TryParse(ReadOnlySpan{char}, out IPAddress?)"/> accepts, with at least one group of three or
/// more hex digits including a decimal digit, so "a::b" and "dead::beef" in code stay out). Loopback, unspecified
/// and broadcast addresses say nothing about a network and are skipped.
/// </summary>
internal sealed partial class IpAddressDetector : IDetector
{
    private const int MaxIpv6Length = 45;

    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        if (profile.DigitCount >= 4)
        {
            DetectV4(text, sink);
        }

        DetectV6(text, sink);
    }

    private static void DetectV4(string text, FindingSink sink)
    {
        foreach (var match in DottedQuad().EnumerateMatches(text))
        {
            if (IsReportableV4(text.AsSpan(match.Index, match.Length)) && !FollowsVersionWord(text, match.Index))
            {
                sink.Add(FindingKind.IpAddress, match.Index, match.Length);
            }
        }
    }

    internal static bool IsReportableV4(ReadOnlySpan<char> quad)
    {
        Span<int> octets = stackalloc int[4];
        var n = 0;
        foreach (var range in quad.Split('.'))
        {
            var octet = quad[range];
            if (n == 4 || octet.Length == 0 || (octet.Length > 1 && octet[0] == '0') || !int.TryParse(octet, out var value) || value > 255)
            {
                return false;
            }

            octets[n++] = value;
        }

        if (n != 4)
        {
            return false;
        }

        var loopback = octets[0] == 127;
        var unspecified = octets[0] == 0 && octets[1] == 0 && octets[2] == 0 && octets[3] == 0;
        var broadcast = octets[0] == 255 && octets[1] == 255 && octets[2] == 255 && octets[3] == 255;
        return !loopback && !unspecified && !broadcast;
    }

    /// <summary>"v1.2.3.4", "version 1.2.3.4", "ver. 1.2.3.4" are versions, not addresses.</summary>
    private static bool FollowsVersionWord(string text, int index)
    {
        var end = index;
        while (end > 0 && index - end < 3 && text[end - 1] is ' ' or '.' or ':' or '\t')
        {
            end--;
        }

        var start = end;
        while (start > 0 && end - start < 8 && char.IsAsciiLetter(text[start - 1]))
        {
            start--;
        }

        var word = text.AsSpan(start, end - start);
        return word.Equals("v", StringComparison.OrdinalIgnoreCase)
            || word.Equals("ver", StringComparison.OrdinalIgnoreCase)
            || word.Equals("version", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Every ':' with a hex digit or ':' after it is a possible IPv6 address; take the run of address chars around it.</summary>
    private static void DetectV6(string text, FindingSink sink)
    {
        var position = 0;
        int colon;
        while (position < text.Length && (colon = text.IndexOf(':', position)) >= 0)
        {
            position = colon + 1;
            if (colon + 1 >= text.Length || !(char.IsAsciiHexDigit(text[colon + 1]) || text[colon + 1] == ':'))
            {
                continue;
            }

            var start = colon;
            while (start > 0 && colon - start < MaxIpv6Length && IsV6Char(text[start - 1]))
            {
                start--;
            }

            // the whole run of address chars, so the next search starts after it: linear however long the run
            var end = colon + 1;
            while (end < text.Length && IsV6Char(text[end]))
            {
                end++;
            }

            position = end;
            while (end > start && text[end - 1] == '.')
            {
                end--; // end of a sentence
            }

            if (end - start > MaxIpv6Length
                || (start > 0 && (IsV6Char(text[start - 1]) || RegexScan.IsWordChar(text[start - 1])))
                || (end < text.Length && RegexScan.IsWordChar(text[end])))
            {
                continue;
            }

            var candidate = text.AsSpan(start, end - start);
            if (IsReportableV6(candidate))
            {
                sink.Add(FindingKind.IpAddress, start, end - start);
            }
        }
    }

    internal static bool IsReportableV6(ReadOnlySpan<char> candidate)
    {
        if (candidate.Count(':') < 2 || !HasDistinctiveGroup(candidate))
        {
            return false;
        }

        if (!IPAddress.TryParse(candidate, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        return !IPAddress.IPv6Loopback.Equals(address) && !IPAddress.IPv6None.Equals(address);
    }

    private static bool HasDistinctiveGroup(ReadOnlySpan<char> candidate)
    {
        var groupLength = 0;
        var groupHasDigit = false;
        foreach (var c in candidate)
        {
            if (c == ':')
            {
                groupLength = 0;
                groupHasDigit = false;
                continue;
            }

            groupLength++;
            groupHasDigit |= char.IsAsciiDigit(c);
            if (groupLength >= 3 && groupHasDigit)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsV6Char(char c) => char.IsAsciiHexDigit(c) || c is ':' or '.';

    [GeneratedRegex(@"(?<![\w.\-])(?:\d{1,3}\.){3}\d{1,3}(?![\w\-]|\.\d)", RegexOptions.CultureInvariant)]
    private static partial Regex DottedQuad();
}
