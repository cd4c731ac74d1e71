using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class PaymentCardDetectorTests
{
    private static readonly PaymentCardDetector Detector = new();

    [Theory]
    [InlineData("4111 1111 1111 1111")]       // Visa
    [InlineData("4111-1111-1111-1111")]
    [InlineData("4111111111111111")]
    [InlineData("4012888888881881")]
    [InlineData("4222222222222")]             // Visa, 13 digits
    [InlineData("5555 5555 5555 4444")]       // Mastercard
    [InlineData("2223003122003222")]          // Mastercard 2-series
    [InlineData("3782 822463 10005")]         // American Express, 4-6-5
    [InlineData("378282246310005")]
    [InlineData("6011 1111 1111 1117")]       // Discover
    [InlineData("3530111333300000")]          // JCB
    [InlineData("3056 930902 5904")]          // Diners Club, 14 digits
    [InlineData("6200000000000005")]          // UnionPay
    public void Finds_test_cards_with_exact_spans(string card) =>
        DetectorHarness.AssertFindsExactly(Detector, card, FindingKind.PaymentCard);

    [Theory]
    [InlineData("4111 1111 1111 1112")]        // Luhn fails
    [InlineData("4111111111111112")]
    [InlineData("1234 5678 9012 3456")]        // unknown issuer
    [InlineData("0000 0000 0000 0000")]        // Luhn-valid, no issuer
    [InlineData("4111 1111-1111 1111")]        // mixed separators
    [InlineData("41111 111 1111 1111")]        // not printed card grouping
    [InlineData("order ORD-4111111111111111")] // identifier prefix
    [InlineData("id4111111111111111")]
    [InlineData("pi = 3.4111111111111111")]
    [InlineData("41111111111111111111")]       // 20 digits
    [InlineData("4111 1111 1111")]             // 12 digits
    [InlineData("2024-01-15 12:30:45")]
    public void Ignores_invalid_numbers(string text) =>
        Assert.Empty(DetectorHarness.Found(Detector, text));

    [Fact]
    public void Finds_a_card_after_a_leading_group_and_before_a_trailing_code()
    {
        Assert.Equal(["4111 1111 1111 1111"], DetectorHarness.Found(Detector, "2024 4111 1111 1111 1111"));
        Assert.Equal(["4111 1111 1111 1111"], DetectorHarness.Found(Detector, "card 4111 1111 1111 1111 123 exp 12/29"));
        Assert.Equal(["4111-1111-1111-1111"], DetectorHarness.Found(Detector, "ref 2024-4111-1111-1111-1111"));
    }

    [Fact]
    public void Finds_two_adjacent_cards()
    {
        const string text = "4111 1111 1111 1111 5555 5555 5555 4444";
        Assert.Equal(["4111 1111 1111 1111", "5555 5555 5555 4444"], DetectorHarness.Found(Detector, text));
    }

    [Fact]
    public void Skips_text_with_fewer_than_13_digits() =>
        Assert.Empty(DetectorHarness.Found(Detector, "4111 1111 1111"));
}
