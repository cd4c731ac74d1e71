using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Routing;

public sealed class RoutingConfigTests
{
    [Fact]
    public void A_bad_config_stops_start_up_with_file_line_and_reason()
    {
        var dir = TestPaths.NewTempDir("im-badconfig");
        var config = Path.Combine(dir, "gateway.yaml");
        File.WriteAllText(config, "backends:\n  - name: cloud-a\n    type: openai\n    baseUrl: http://127.0.0.1:9101/v1\n    quality: 7\n");

        var ex = Assert.Throws<RoutingConfigException>(() => GatewayApp.Build(["--models", dir, "--port", "0", "--config", config]));

        var error = Assert.Single(ex.Errors);
        Assert.Equal(config, error.File);
        Assert.Equal(5, error.Line);
        Assert.Contains(config + ":5:", ex.Message);
    }

    [Fact]
    public void Config_and_policies_flags_are_parsed()
    {
        var policies = TestPaths.NewTempDir("im-policies");
        var parsed = GatewayCommandLine.Parse(["--config", "gw.yaml", "--policies", policies]);

        Assert.Equal(Path.GetFullPath("gw.yaml"), parsed.Options!.ConfigPath);
        Assert.Equal(policies, parsed.Options.PoliciesDirectory);
    }

    [Fact]
    public void Config_check_prints_the_plan_and_never_the_prompt()
    {
        var dir = TestPaths.NewTempDir("im-check");
        var config = Path.Combine(dir, "gateway.yaml");
        File.WriteAllText(config, "backends:\n  - name: cloud-a\n    type: openai\n    baseUrl: http://127.0.0.1:9101/v1\n    apiKeyEnv: IM_CHECK_UNSET_KEY\n    sovereignty: 0.2\n    quality: 0.95\n    models: [\"*\"]\n");
        var output = new StringWriter();
        var error = new StringWriter();

        var code = ConfigCheckCli.Run(
            ["config", "check", "--config", config, "--policies", Path.Combine(TestPaths.RepoRoot, "policies"), "--models", dir, "--prompt", "pay with 4111 1111 1111 1111"],
            output, error);

        Assert.True(code == 0, output + error.ToString());
        var text = output.ToString();
        Assert.Contains("cloud-a", text);
        Assert.Contains("PaymentCard", text);
        Assert.DoesNotContain("4111", text);
    }

    [Fact]
    public void Backend_options_defaults_are_documented_values_and_invalid_ones_are_named()
    {
        var options = new BackendOptions();
        Assert.Equal(TimeSpan.FromSeconds(60), options.FirstByteTimeout);
        Assert.Equal(TimeSpan.FromSeconds(120), options.ActivityTimeout);
        Assert.Equal(1, options.MaxRetryAttempts);
        Assert.Equal(TimeSpan.FromSeconds(30), options.CircuitBreakDuration);
        Assert.Null(options.Validate());

        Assert.Equal("StreamIdleTimeout must be positive and below ActivityTimeout (got 00:05:00).",
            (options with { StreamIdleTimeout = TimeSpan.FromMinutes(5) }).Validate());
        Assert.Equal("CircuitMinimumThroughput must be at least 2 (got 1).", (options with { CircuitMinimumThroughput = 1 }).Validate());
    }
}
