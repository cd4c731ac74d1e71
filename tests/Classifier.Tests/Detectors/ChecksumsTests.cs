using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class ChecksumsTests
{
    private static byte[] Digits(string s) => s.Where(char.IsAsciiDigit).Select(c => (byte)(c - '0')).ToArray();

    [Theory]
    [InlineData("4111111111111111", true)]
    [InlineData("79927398713", true)]
    [InlineData("4111111111111112", false)]
    [InlineData("79927398710", false)]
    public void Luhn(string number, bool valid) => Assert.Equal(valid, Checksums.Luhn(Digits(number)));

    [Theory]
    [InlineData("GB82WEST12345698765432", true)]
    [InlineData("DE89370400440532013000", true)]
    [InlineData("GB82WEST12345698765433", false)]
    [InlineData("GB82WEST1234569876543!", false)]
    public void Iban_mod_97(string iban, bool valid) => Assert.Equal(valid, Checksums.IbanMod97(iban));

    [Theory]
    [InlineData("111222333", true)]
    [InlineData("123456782", true)]
    [InlineData("123456789", false)]
    [InlineData("000000000", false)]
    public void Dutch_eleven_test(string bsn, bool valid) => Assert.Equal(valid, Checksums.DutchElevenTest(Digits(bsn)));

    [Theory]
    [InlineData(12345678, 'Z')]
    [InlineData(123456, 'S')]
    public void Spanish_dni_letter(int number, char letter) => Assert.Equal(letter, Checksums.SpanishDniLetter(number));
}
