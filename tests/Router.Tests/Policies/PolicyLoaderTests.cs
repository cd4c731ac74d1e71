using InferenceMesh.Classifier;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Policies;
using InferenceMesh.Router.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Router.Tests.Policies;

public sealed class PolicyLoaderTests : IDisposable
{
    private readonly RouterTestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public void Repository_default_policy_is_safe()
    {
        var result = PolicyLoader.Load(Path.Combine(TestPaths.RepoRoot, "policies", "default.yaml"));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var policy = result.Value!;
        Assert.Equal("default", policy.Name);
        Assert.Equal([BackendClass.Local], policy.RuleFor(PrivacyLevel.Confidential).Allow);
        Assert.Equal([BackendClass.Local], policy.RuleFor(PrivacyLevel.Restricted).Allow);
        Assert.False(policy.RuleFor(PrivacyLevel.Internal).AllowRetention);
        Assert.True(policy.RuleFor(PrivacyLevel.Internal).TrustedPeersOnly);
        Assert.Equal(PrivacyLevel.Confidential, policy.UnsureAs);
        Assert.False(policy.AllowCallerLowering);
        Assert.Equal(new ScoreWeights(), policy.Weights);
        Assert.Equal(new HealthRules(), policy.Health);
        Assert.Equal(new ScoreNormalisation(), policy.Normalisation);
    }

    [Fact]
    public void A_policy_path_naming_an_endless_device_is_one_error_not_a_hang()
    {
        var result = PolicyLoader.Load("/dev/zero");

        var error = Assert.Single(result.Errors);
        Assert.Equal(("/dev/zero", "policy file is not a regular file (a FIFO, a device or a socket)"), (error.File, error.Reason));
    }

    [Fact]
    public void A_fifo_policy_is_one_error_not_a_hang()
    {
        var path = Path.Combine(TestPaths.NewTempDir("im-policy-fifo"), "pipe.yaml");
        using var fifo = TestFifo.CreateWithWriterWaiting(path);

        var result = PolicyLoader.Load(path);

        var error = Assert.Single(result.Errors);
        Assert.Equal((path, "policy file is not a regular file (a FIFO, a device or a socket)"), (error.File, error.Reason));
    }

    [Fact]
    public void Built_in_policy_is_the_repository_default()
    {
        var builtIn = PolicyLoader.BuiltIn();
        var file = PolicyLoader.Load(Path.Combine(TestPaths.RepoRoot, "policies", "default.yaml")).Value!;

        Assert.Equal(file.Weights, builtIn.Weights);
        Assert.Equal(file.UnsureAs, builtIn.UnsureAs);
        foreach (var level in Enum.GetValues<PrivacyLevel>())
        {
            Assert.Equal(file.RuleFor(level).Allow.Order(), builtIn.RuleFor(level).Allow.Order());
            Assert.Equal(file.RuleFor(level).AllowRetention, builtIn.RuleFor(level).AllowRetention);
        }
    }

    [Fact]
    public void Annotated_example_in_the_policies_readme_is_valid()
    {
        var readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "policies", "README.md"));
        var start = readme.IndexOf("```yaml\n", StringComparison.Ordinal) + "```yaml\n".Length;
        var yaml = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];

        var result = PolicyLoader.Parse("README.md", yaml);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal("strict-eu", result.Value!.Name);
        Assert.Equal(["EU", "CH"], result.Value.RuleFor(PrivacyLevel.Internal).Jurisdictions);
    }

    [Fact]
    public void Levels_left_out_allow_local_only()
    {
        var result = PolicyLoader.Parse("p.yaml", "levels:\n  public:\n    allow: [local, cloud]\n    allowRetention: true\n");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal([BackendClass.Local], result.Value!.RuleFor(PrivacyLevel.Internal).Allow);
        Assert.Equal(2, result.Value.RuleFor(PrivacyLevel.Public).Allow.Count);
    }

    [Fact]
    public void Aliases_and_backend_overrides_are_read()
    {
        var result = PolicyLoader.Parse("p.yaml", """
            aliases:
              gpt-4o-mini:
                local: tiny-local
                cloud-a: gpt-4o-mini-2024
            backends:
              cloud-a:
                jurisdiction: EU
                retainsData: false
            """);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal("tiny-local", result.Value!.Aliases["GPT-4O-MINI"]["local"]);
        var o = Assert.Single(result.Value.BackendOverrides);
        Assert.Equal(("cloud-a", "EU", false), (o.Backend, o.Jurisdiction, o.RetainsData));
    }

    [Theory]
    [InlineData("weights:\n  quality: 0.5\n   cost: 0.2\n", 3, "")]
    [InlineData("weights:\n  quality: 1.5\n", 2, "weights.quality must be from 0 to 1 (got 1.5)")]
    [InlineData("weights:\n  quality: -0.1\n", 2, "weights.quality must be from 0 to 1 (got -0.1)")]
    [InlineData("weights:\n  quality: 0\n  cost: 0\n  latency: 0\n  sovereignty: 0\n", 2, "weights must not all be 0")]
    [InlineData("weights:\n  speed: 0.5\n", 2, "unknown key 'speed' in weights")]
    [InlineData("levels:\n  public:\n    allow: [local, satellite]\n", 3, "unknown backend class 'satellite'")]
    [InlineData("levels:\n  secret:\n    allow: [local]\n", 2, "unknown key 'secret' in levels")]
    [InlineData("levels:\n  public:\n    allowRetention: true\n", 3, "levels.public needs an allow list")]
    [InlineData("unsureAs: maybe\n", 1, "unsureAs must be one of public, internal, confidential, restricted (got 'maybe')")]
    [InlineData("allowCallerLowering: yes\n", 1, "allowCallerLowering must be true or false (got 'yes')")]
    [InlineData("name: a\nname: b\n", 2, "")]
    [InlineData("health:\n  minSamples: 0\n", 2, "health.minSamples must be from 1 to 100000 (got 0)")]
    [InlineData("- just\n- a list\n", 1, "the policy must be a mapping")]
    [InlineData("levels:\n  public:\n    allow: [local, peer]\n    peers: friends\n", 4, "levels.public.peers must be 'trusted', 'any' or a list of trusted, community, open (got 'friends')")]
    [InlineData("levels:\n  internal:\n    allow: [peer]\n    peers: [trusted, strangers]\n", 4, "(got 'strangers')")]
    public void Bad_policy_names_file_line_and_reason(string yaml, int line, string reason)
    {
        var path = _env.WritePolicy(yaml, "bad");

        var result = PolicyLoader.Load(path);

        Assert.False(result.IsValid);
        var error = Assert.Single(result.Errors);
        Assert.Equal(path, error.File);
        Assert.Equal(line, error.Line);
        Assert.Contains(reason, error.Reason);
    }

    [Fact]
    public void All_errors_are_reported_not_only_the_first()
    {
        var result = PolicyLoader.Parse("p.yaml", "weights:\n  quality: 2\n  cost: x\nfoo: 1\n");

        Assert.Equal([2, 3, 4], result.Errors.Select(e => e.Line));
    }

    [Fact]
    public void Empty_policy_is_an_error()
    {
        var error = Assert.Single(PolicyLoader.Parse("p.yaml", "# nothing\n").Errors);

        Assert.Equal("p.yaml: the policy file is empty", error.ToString());
    }

    [Fact]
    public void Named_policy_that_does_not_exist_is_an_error_at_the_config_line()
    {
        _env.WriteConfig("backends: []\npolicy: strict\n");

        var result = RoutingSnapshotLoader.Load(_env.Options(), _env.Time.GetUtcNow());

        var error = Assert.Single(result.Errors);
        Assert.Equal((_env.ConfigPath, 2), (error.File, error.Line));
        Assert.Contains("policy 'strict' not found", error.Reason);
    }

    [Fact]
    public void Config_can_name_a_policy_file_by_path_and_overrides_apply()
    {
        File.WriteAllText(Path.Combine(_env.Root, "mine.yaml"), """
            name: mine
            backends:
              cloud-a:
                quality: 0.1
              nowhere:
                quality: 0.1
            """);
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig + "\npolicy: ./mine.yaml\n");

        var snapshot = _env.Load();

        Assert.Equal("mine", snapshot.Policy.Name);
        Assert.Equal(0.1, snapshot.Backends.Single(b => b.Name == "cloud-a").Quality);
        var warning = Assert.Single(snapshot.Warnings);
        Assert.Contains("'nowhere' is not a configured backend", warning.Reason);
    }
}
