using System.Buffers;
using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// Credentials recognisable by their published prefix, in one pass (the alternation's literal prefixes let the
/// regex engine skip ahead): AWS access key ids (AKIA/ASIA), Google API keys (AIza), GitHub tokens
/// (ghp_/gho_/ghs_/ghu_/ghr_, github_pat_), GitLab personal tokens (glpat-), Slack tokens (xoxb-/xoxp-/xoxa-/
/// xoxr-/xoxs-) and webhooks, Stripe live keys (sk_live_/rk_live_), Anthropic (sk-ant-) and OpenAI-style (sk-,
/// sk-proj-) keys. An AWS secret access key has no prefix and is taken only after its name.
/// </summary>
internal sealed partial class TokenDetector : IDetector
{
    /// <summary>The literal prefixes of <see cref="Prefixed"/>: a vectorised search lets most prompts skip the regex.</summary>
    private static readonly SearchValues<string> Prefixes = SearchValues.Create(
        ["AKIA", "ASIA", "AIza", "ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_", "glpat-", "xox", "hooks.slack.com", "k_live_", "sk-"],
        StringComparison.Ordinal);

    private static readonly SearchValues<string> SecretWord = SearchValues.Create(["secret"], StringComparison.OrdinalIgnoreCase);

    public void Detect(string text, in TextProfile profile, FindingSink sink)
    {
        var first = text.AsSpan().IndexOfAny(Prefixes);
        if (first >= 0)
        {
            DetectPrefixed(text, Math.Max(0, first - "https://".Length), sink);
        }

        if (text.AsSpan().IndexOfAny(SecretWord) >= 0)
        {
            DetectAwsSecretKeys(text, sink);
        }
    }

    private static void DetectPrefixed(string text, int startAt, FindingSink sink)
    {
        foreach (var match in Prefixed().EnumerateMatches(text.AsSpan(), startAt))
        {
            var token = text.AsSpan(match.Index, match.Length);
            var kind = KindOf(token);
            if (kind is { } k)
            {
                sink.Add(k, match.Index, match.Length);
            }
        }
    }

    private static void DetectAwsSecretKeys(string text, FindingSink sink)
    {
        for (var m = AwsSecretAccessKey().Match(text); m.Success; m = m.NextMatch())
        {
            var secret = m.Groups[1];
            var value = text.AsSpan(secret.Index, secret.Length);
            if (value.IndexOfAnyInRange('0', '9') >= 0 && value.IndexOfAnyInRange('a', 'z') >= 0 && value.IndexOfAnyInRange('A', 'Z') >= 0)
            {
                sink.Add(FindingKind.CloudAccessKey, secret.Index, secret.Length);
            }
        }
    }

    internal static FindingKind? KindOf(ReadOnlySpan<char> token)
    {
        if (token.StartsWith("AKIA") || token.StartsWith("ASIA") || token.StartsWith("AIza"))
        {
            return FindingKind.CloudAccessKey;
        }

        if (token.StartsWith("gh") || token.StartsWith("github_pat_") || token.StartsWith("glpat-"))
        {
            return FindingKind.VcsToken;
        }

        if (token.StartsWith("xox"))
        {
            // real Slack tokens carry numeric workspace/user ids
            return token.IndexOfAnyInRange('0', '9') >= 0 ? FindingKind.ApiKey : null;
        }

        if (token.StartsWith("sk-") && !token.StartsWith("sk-ant-"))
        {
            // random key material mixes letters and digits; "sk-some-long-hyphenated-name" does not
            var body = token[3..];
            return body.IndexOfAnyInRange('0', '9') >= 0 && body.IndexOfAnyExcept("0123456789-_") >= 0 && !body.Contains("--", StringComparison.Ordinal)
                ? FindingKind.ApiKey
                : null;
        }

        return FindingKind.ApiKey;
    }

    [GeneratedRegex("""
        (?<![A-Za-z0-9_\-])(?:
          (?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])
        | AIza[A-Za-z0-9_\-]{35}(?![A-Za-z0-9_\-])
        | gh[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])
        | github_pat_[A-Za-z0-9_]{40,251}(?![A-Za-z0-9_])
        | glpat-[A-Za-z0-9_\-]{20,64}(?![A-Za-z0-9_\-])
        | xox[abeprs]-[A-Za-z0-9\-]{10,250}(?![A-Za-z0-9\-])
        | https://hooks\.slack\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32}(?![A-Za-z0-9])
        | [rs]k_live_[A-Za-z0-9]{20,247}(?![A-Za-z0-9])
        | sk-ant-[A-Za-z0-9_\-]{32,256}(?![A-Za-z0-9_\-])
        | sk-(?!ant-)[A-Za-z0-9_\-]{20,256}(?![A-Za-z0-9_\-])
        )
        """, RegexOptions.CultureInvariant | RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex Prefixed();

    [GeneratedRegex(@"(?i:aws_?secret_?(?:access_?)?key)[""']?[ \t]{0,3}[:=][ \t]{0,3}[""']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        RegexOptions.CultureInvariant)]
    private static partial Regex AwsSecretAccessKey();
}
