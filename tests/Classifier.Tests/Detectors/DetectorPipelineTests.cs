using System.Text;
using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class DetectorPipelineTests
{
    [Fact]
    public void Plain_prose_and_code_find_nothing()
    {
        const string text = """
            Please refactor this method so that it returns early when the list is empty.

            public static int Sum(IReadOnlyList<int> values)
            {
                var total = 0;
                foreach (var v in values) { total += v; }   // v1.2.3 compatible, see RFC 9110 section 15.5
                return total;
            }

            Released on 2024-01-15 at 12:30:45 UTC, build 20240115.3, order #123456789012.
            """;

        var result = DetectorPipeline.Run(text);

        Assert.Empty(result.Findings);
        Assert.Equal(PrivacyLevel.Public, result.Level);
    }

    [Fact]
    public void Findings_are_ordered_by_position_and_the_level_is_the_strictest()
    {
        const string text = "Mail alice@example.com, card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE.";

        var result = DetectorPipeline.Run(text);

        Assert.Equal(
            [FindingKind.Email, FindingKind.PaymentCard, FindingKind.CloudAccessKey],
            result.Findings.Select(f => f.Kind));
        Assert.Equal(PrivacyLevel.Restricted, result.Level);
        Assert.Equal("4111 1111 1111 1111", text.Substring(result.Findings[1].Start, result.Findings[1].Length));
    }

    [Theory]
    [InlineData(FindingKind.Email, PrivacyLevel.Internal)]
    [InlineData(FindingKind.Phone, PrivacyLevel.Internal)]
    [InlineData(FindingKind.IpAddress, PrivacyLevel.Internal)]
    [InlineData(FindingKind.PaymentCard, PrivacyLevel.Confidential)]
    [InlineData(FindingKind.Iban, PrivacyLevel.Confidential)]
    [InlineData(FindingKind.NationalId, PrivacyLevel.Confidential)]
    [InlineData(FindingKind.CloudAccessKey, PrivacyLevel.Restricted)]
    [InlineData(FindingKind.VcsToken, PrivacyLevel.Restricted)]
    [InlineData(FindingKind.ApiKey, PrivacyLevel.Restricted)]
    [InlineData(FindingKind.PrivateKey, PrivacyLevel.Restricted)]
    [InlineData(FindingKind.Jwt, PrivacyLevel.Restricted)]
    [InlineData(FindingKind.Password, PrivacyLevel.Restricted)]
    [InlineData(FindingKind.ConfidentialityMarker, PrivacyLevel.Internal)]
    public void Each_kind_has_its_documented_level(FindingKind kind, PrivacyLevel level) =>
        Assert.Equal(level, FindingLevels.Of(kind));

    [Fact]
    public void Every_kind_has_a_row_in_the_level_table()
    {
        foreach (var kind in Enum.GetValues<FindingKind>())
        {
            // the fallback row is Confidential; a kind landing there by accident would pass silently otherwise
            var expectedConfidential = kind is FindingKind.PaymentCard or FindingKind.Iban or FindingKind.NationalId;
            Assert.True(expectedConfidential || FindingLevels.Of(kind) != PrivacyLevel.Confidential, $"{kind} has no row");
        }
    }

    /// <summary>Partial patterns that make naive regexes backtrack: a run of each must cost linear time.</summary>
    private static readonly string[] HostileUnits =
    [
        "a", "a.a-", "a@b.", "@", "1", "4111 ", "4111-", "+1 ", "+1(", "1.1.1.", ":", "1:", "ab12:", "GB82 ", "AB 12 ", "123-45-",
        "AKIA", "sk-", "sk-a", "ghp_a", "xoxb-1", "eyJ", "eyJa.", "-----BEGIN ", "-----BEGIN PRIVATE KEY-----", "password=",
        "Password=a", "a://", "a://b:", "a://b:c@", "confidential ", "BSN ", "SSN: ", "aws_secret_key=",
        new string('a', 70) + "@",
    ];

    private static string Repeat(string unit, int length)
    {
        var builder = new StringBuilder(length + unit.Length);
        while (builder.Length < length)
        {
            builder.Append(unit);
        }

        return builder.ToString();
    }

    /// <summary>
    /// 1 MB of 30 KB runs of every hostile unit. Asserts only that the pass completes (no timing assertion): a
    /// quadratic detector would take minutes on a 30 KB run. bench/Classifier measures the actual time.
    /// </summary>
    [Fact]
    public void A_megabyte_of_runs_of_every_partial_pattern_completes()
    {
        var text = new StringBuilder(1 << 20);
        foreach (var unit in HostileUnits)
        {
            text.Append(Repeat(unit, (1 << 20) / HostileUnits.Length)).Append('\n');
        }

        var result = DetectorPipeline.Run(text.ToString());

        Assert.True(result.Findings.Count >= 0);
    }

    /// <summary>A whole megabyte of the units that stress digit, separator and key-value scanning the most.</summary>
    [Theory]
    [InlineData("4111 ")]
    [InlineData("+1 ")]
    [InlineData("1:")]
    [InlineData("a@b.")]
    [InlineData("password=")]
    public void A_megabyte_of_one_partial_pattern_completes(string unit)
    {
        var result = DetectorPipeline.Run(Repeat(unit, 1 << 20));

        Assert.True(result.Findings.Count >= 0);
    }

    [Fact]
    public void A_megabyte_of_random_printable_text_completes()
    {
        var random = new Random(42);
        const string alphabet = "abcdefABCDEF0123456789 .:-@+/=_\n";
        var chars = new char[1 << 20];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = alphabet[random.Next(alphabet.Length)];
        }

        var result = DetectorPipeline.Run(new string(chars));

        Assert.True(result.Findings.Count >= 0);
    }
}
