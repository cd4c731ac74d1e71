using System.Buffers;
using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// Passwords: the value of Password= / Pwd= / Passwd= (connection strings, .env files, code; also "password": "…"
/// with a quoted value) and the password of a URL's user info (scheme://user:pass@host). The span is the value
/// only. Placeholders ("&lt;password&gt;", "${DB_PASSWORD}", "****") and code that reads a variable
/// ("password=args.password", "password=os.getenv(…)") are not passwords.
/// </summary>
internal sealed partial class PasswordDetector : IDetector
{
    private const int MaxUserInfo = 512;

    private static readonly SearchValues<string> Keys = SearchValues.Create(["password", "passwd", "pwd"], StringComparison.OrdinalIgnoreCase);

    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        var first = text.AsSpan().IndexOfAny(Keys);
        for (var m = first < 0 ? Match.Empty : KeyValue().Match(text, first); m.Success; m = m.NextMatch())
        {
            var value = m.Groups["v"];
            var quoted = value.Index > 0 && text[value.Index - 1] is '"' or '\'';
            var length = quoted ? value.Length : TrimTrailingPunctuation(text.AsSpan(value.Index, value.Length));
            var span = text.AsSpan(value.Index, length);
            if (length > 0 && !IsPlaceholder(span, quoted) && !(IsPwdKey(text, m.Index) && span[0] is '/' or '~'))
            {
                sink.Add(FindingKind.Password, value.Index, length);
            }
        }

        DetectUrlPasswords(text, sink);
    }

    private static void DetectUrlPasswords(string text, FindingSink sink)
    {
        var position = 0;
        int separator;
        while (position < text.Length && (separator = text.IndexOf("://", position, StringComparison.Ordinal)) >= 0)
        {
            position = separator + 3;
            var schemeStart = separator;
            while (schemeStart > 0 && separator - schemeStart < 32 && (char.IsAsciiLetterOrDigit(text[schemeStart - 1]) || text[schemeStart - 1] is '+' or '.' or '-'))
            {
                schemeStart--;
            }

            if (separator - schemeStart < 2 || !char.IsAsciiLetter(text[schemeStart]))
            {
                continue;
            }

            // user info ends at the last '@' before the path, query, fragment or any space or quote
            var limit = Math.Min(text.Length, position + MaxUserInfo);
            var at = -1;
            for (var i = position; i < limit; i++)
            {
                var c = text[i];
                if (c is '/' or '?' or '#' or '"' or '\'' or '<' or '>' or '`' || char.IsWhiteSpace(c))
                {
                    break;
                }

                if (c == '@')
                {
                    at = i;
                }
            }

            if (at < 0 || at + 1 >= text.Length || !(char.IsAsciiLetterOrDigit(text[at + 1]) || text[at + 1] == '['))
            {
                continue;
            }

            var colon = text.IndexOf(':', position, at - position);
            if (colon < 0)
            {
                continue; // a user without a password
            }

            var password = text.AsSpan(colon + 1, at - colon - 1);
            if (password.Length > 0 && !IsPlaceholder(password, quoted: false))
            {
                sink.Add(FindingKind.Password, colon + 1, password.Length);
            }

            position = at + 1;
        }
    }

    private static bool IsPwdKey(string text, int keyStart) =>
        text.AsSpan(keyStart).StartsWith("pwd", StringComparison.OrdinalIgnoreCase);

    /// <summary>"hunter2," or "hunter2)" in code: the punctuation belongs to the code, not the password.</summary>
    private static int TrimTrailingPunctuation(ReadOnlySpan<char> value)
    {
        var length = value.Length;
        while (length > 1 && value[length - 1] is ',' or ')' or ']' or '}')
        {
            length--;
        }

        return length;
    }

    internal static bool IsPlaceholder(ReadOnlySpan<char> value, bool quoted)
    {
        if (value.Length == 0 || value.IndexOfAnyExcept(value[0]) < 0)
        {
            return true; // "", "****", "xxxxxxxx"
        }

        if ((value[0] == '<' && value[^1] == '>') || (value[0] == '%' && value[^1] == '%')
            || value.StartsWith("${") || value.StartsWith("{{") || value.StartsWith("$(") || (value[0] == '$' && !quoted))
        {
            return true;
        }

        foreach (var word in PlaceholderWords)
        {
            if (value.Equals(word, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        // unquoted code reads a variable or calls something: password=args.password, pwd=get_pwd()
        return !quoted && (value.ContainsAny('(', '[') || IsDottedIdentifier(value));
    }

    private static readonly string[] PlaceholderWords =
        ["password", "passwd", "pwd", "pass", "secret", "null", "none", "nil", "undefined", "true", "false", "redacted", "hidden", "your_password", "yourpassword", "your-password"];

    private static bool IsDottedIdentifier(ReadOnlySpan<char> value)
    {
        var dots = 0;
        var segmentStart = true;
        foreach (var c in value)
        {
            if (c == '.')
            {
                if (segmentStart)
                {
                    return false;
                }

                dots++;
                segmentStart = true;
            }
            else if (char.IsAsciiLetter(c) || c == '_' || (!segmentStart && char.IsAsciiDigit(c)))
            {
                segmentStart = false;
            }
            else
            {
                return false;
            }
        }

        return dots > 0 && !segmentStart;
    }

    // key, optional closing quote of a JSON/YAML key, '=' (or ':' when the value is quoted), then the value:
    // quoted, or unquoted up to whitespace, ';' or a quote.
    [GeneratedRegex("""(?<![A-Za-z0-9])(?i:password|passwd|pwd)["']?[ \t]{0,3}(?:=|:(?=[ \t]{0,3}["']))[ \t]{0,3}(?:"(?<v>[^"\r\n]{1,256})"|'(?<v>[^'\r\n]{1,256})'|(?<v>[^\s;"'=,)}\]\[<>][^\s;"']{0,255}))""",
        RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture)]
    private static partial Regex KeyValue();
}
