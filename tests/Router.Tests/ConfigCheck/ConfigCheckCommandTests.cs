using InferenceMesh.Classifier;
using InferenceMesh.Router.ConfigCheck;
using InferenceMesh.Router.Routing;
using InferenceMesh.Router.Tests.Common;

namespace InferenceMesh.Router.Tests.ConfigCheck;

public sealed class ConfigCheckCommandTests : IDisposable
{
    private readonly RouterTestEnvironment _env = new();

    public ConfigCheckCommandTests() => _env.CopyRepoDefaultPolicy();

    public void Dispose() => _env.Dispose();

    [Fact]
    public void Prints_the_plan_for_a_sample_prompt()
    {
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig);
        var output = new StringWriter();
        var classifier = new FixedClassifier(RouterTestEnvironment.Classified(PrivacyLevel.Public));

        var exit = ConfigCheckCommand.Run(_env.ConfigPath, _env.PoliciesDirectory, "What is the capital of France?", classifier, output,
            new StaticLocalModelDirectory(["tiny-local"]), environment: _ => "sk-test-secret");

        var text = output.ToString();
        Assert.Equal(0, exit);
        Assert.Contains("config " + _env.ConfigPath + ": ok", text);
        Assert.Contains("sample: classified public, findings: none", text);
        Assert.Contains("1. cloud-a model 'auto' score 0.795", text);
        Assert.Contains("2. local model 'tiny-local' score 0.720", text);
        Assert.Contains("key Found (environment variable CLOUD_A_KEY)", text);
        Assert.DoesNotContain("sk-test-secret", text);
        Assert.DoesNotContain("capital of France", text);
    }

    [Fact]
    public void A_policy_that_lets_private_prompts_leave_the_machine_is_valid_but_each_such_rule_is_a_warning()
    {
        // Refusing it would refuse a documented choice; saying nothing let a typo in a policy send confidential
        // prompts to a cloud without a word from config check or the gateway.
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig);
        var policy = _env.WritePolicy(RouterTestEnvironment.LeakyPolicy);
        var output = new StringWriter();

        var exit = ConfigCheckCommand.Run(_env.ConfigPath, _env.PoliciesDirectory, "hello", null, output);

        var warnings = output.ToString().Split(Environment.NewLine).Where(l => l.StartsWith("warning: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(0, exit);
        Assert.Equal(
        [
            $"warning: {policy}:3:1: levels.confidential.allow includes cloud: confidential requests may be sent to cloud backends",
            $"warning: {policy}:5:1: levels.restricted.peers includes untrusted peers: restricted requests may be sent to community or open mesh peers",
            $"warning: {policy}:9:1: unsureAs is public: a prompt the classifier is unsure about may be sent to clouds or untrusted peers",
        ], warnings);
    }

    [Fact]
    public void The_default_policy_has_no_warning()
    {
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig);
        var output = new StringWriter();

        Assert.Equal(0, ConfigCheckCommand.Run(_env.ConfigPath, _env.PoliciesDirectory, "hello", null, output));

        Assert.DoesNotContain("warning:", output.ToString());
    }

    [Fact]
    public void A_missing_key_is_shown_as_an_exclusion_of_the_plan()
    {
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig);
        var output = new StringWriter();
        var classifier = new FixedClassifier(RouterTestEnvironment.Classified(PrivacyLevel.Public));

        var exit = ConfigCheckCommand.Run(_env.ConfigPath, _env.PoliciesDirectory, "hello", classifier, output,
            new StaticLocalModelDirectory(["tiny-local"]), environment: _ => null);

        var text = output.ToString();
        Assert.Equal(0, exit);
        Assert.Contains("key Missing (environment variable CLOUD_A_KEY)", text);
        Assert.Contains("1. local model 'tiny-local'", text);
        Assert.Contains("excluded cloud-a: its API key is missing (environment variable CLOUD_A_KEY)", text);
    }

    [Fact]
    public void Without_a_classifier_the_sample_stays_local()
    {
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig);
        var output = new StringWriter();

        var exit = ConfigCheckCommand.Run(_env.ConfigPath, _env.PoliciesDirectory, "hello", null, output);

        Assert.Equal(0, exit);
        Assert.Contains("1. local model 'local-default'", output.ToString());
        Assert.Contains("excluded cloud-a: confidential requests may go to [local] only", output.ToString());
    }

    [Fact]
    public void Bad_config_returns_non_zero_with_file_line_and_reason()
    {
        _env.WriteConfig("backends:\n  - name: a\n    type: gemini\n    baseUrl: http://127.0.0.1:1/v1\n");
        var output = new StringWriter();

        var exit = ConfigCheckCommand.Run(_env.ConfigPath, _env.PoliciesDirectory, "hello", null, output);

        Assert.Equal(1, exit);
        Assert.Contains($"error: {_env.ConfigPath}:3:11: unknown backend type 'gemini'", output.ToString());
    }

    [Fact]
    public void A_broken_spare_policy_fails_the_check()
    {
        var spare = _env.WritePolicy("levels:\n  public:\n    allow: [everything]\n", "spare");
        var output = new StringWriter();

        var exit = ConfigCheckCommand.Run(null, _env.PoliciesDirectory, "hello", null, output);

        Assert.Equal(1, exit);
        Assert.Contains($"error: {spare}:3:12: unknown backend class 'everything'", output.ToString());
    }
}
