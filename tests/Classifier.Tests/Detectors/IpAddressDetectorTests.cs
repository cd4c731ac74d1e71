using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class IpAddressDetectorTests
{
    private static readonly IpAddressDetector Detector = new();

    [Theory]
    [InlineData("192.168.1.10")]
    [InlineData("10.0.0.1")]
    [InlineData("8.8.8.8")]
    [InlineData("255.255.255.0")]
    [InlineData("2001:db8::1")]
    [InlineData("2001:0db8:85a3:0000:0000:8a2e:0370:7334")]
    [InlineData("fe80::1ff:fe23:4567:890a")]
    [InlineData("fd12:3456:789a:1::1")]
    public void Finds_addresses_with_exact_spans(string address) =>
        DetectorHarness.AssertFindsExactly(Detector, address, FindingKind.IpAddress);

    [Fact]
    public void Finds_addresses_in_urls_and_with_ports()
    {
        Assert.Equal(["10.1.2.3"], DetectorHarness.Found(Detector, "curl http://10.1.2.3:8080/health"));
        Assert.Equal(["2001:db8::42"], DetectorHarness.Found(Detector, "connect to [2001:db8::42]:443 now."));
        Assert.Equal(["172.16.0.0"], DetectorHarness.Found(Detector, "subnet 172.16.0.0/12"));
    }

    [Theory]
    [InlineData("999.1.1.1")]
    [InlineData("1.2.3.256")]
    [InlineData("01.02.03.04")]
    [InlineData("v1.2.3.4")]
    [InlineData("version 1.2.3.4")]
    [InlineData("Ver. 10.0.0.1")]
    [InlineData("1.2.3.4.5")]
    [InlineData("10.0.19041.1")]
    [InlineData("127.0.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("at 12:30:45 today")]
    [InlineData("std::vector<int>")]
    [InlineData("a::b and Foo::Bar")]
    [InlineData("dead::beef")]
    [InlineData("00:1A:2B:3C:4D:5E")]
    [InlineData("1:2:3:4:5:6:7:8")]
    [InlineData("{\"a\":1,\"b\":2}")]
    public void Ignores_non_addresses(string text) =>
        Assert.Empty(DetectorHarness.Found(Detector, text));
}
