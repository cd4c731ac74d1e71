using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Gateway.Security;

namespace InferenceMesh.Gateway.Tests.Security;

public sealed class HostAllowListTests
{
    [Theory]
    [InlineData("localhost", true)]
    [InlineData("LOCALHOST", true)]
    [InlineData("localhost.", true)]
    [InlineData("app.localhost", true)]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.8.9.10", true)]
    [InlineData("[::1]", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("evil.example", false)]
    [InlineData("localhost.evil.example", false)]
    [InlineData("127.0.0.1.evil.example", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("", false)]
    public void Only_loopback_names_by_default(string host, bool allowed) =>
        Assert.Equal(allowed, new HostAllowList(new GatewayOptions()).IsAllowed(host));

    [Fact]
    public void Configured_hosts_and_wildcard_are_allowed()
    {
        var list = new HostAllowList(new GatewayOptions { AllowedHosts = ["mesh.lan"] });
        Assert.True(list.IsAllowed("MESH.lan"));
        Assert.False(list.IsAllowed("other.lan"));
        Assert.True(new HostAllowList(new GatewayOptions { AllowedHosts = ["*"] }).IsAllowed("anything.example"));
    }

    [Fact]
    public void A_specific_bound_address_is_allowed() =>
        Assert.True(new HostAllowList(new GatewayOptions { Host = "192.168.1.5" }).IsAllowed("192.168.1.5"));
}
