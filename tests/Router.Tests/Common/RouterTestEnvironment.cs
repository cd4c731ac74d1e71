using InferenceMesh.Classifier;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Health;
using InferenceMesh.Router.Policies;
using InferenceMesh.Router.Routing;
using InferenceMesh.Tests;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.Router.Tests.Common;

/// <summary>One test's folder with a config file and a policies folder, plus the pieces a router needs.</summary>
internal sealed class RouterTestEnvironment : IDisposable
{
    /// <summary>The acceptance block from the issue, verbatim.</summary>
    public const string AcceptanceConfig = """
        backends:
          - name: cloud-a
            type: openai
            baseUrl: http://127.0.0.1:9101/v1
            apiKeyEnv: CLOUD_A_KEY
            sovereignty: 0.2
            quality: 0.95
            models: ["*"]
        """;

    public RouterTestEnvironment()
    {
        Root = TestPaths.NewTempDir("im-router");
        PoliciesDirectory = Path.Combine(Root, "policies");
        Directory.CreateDirectory(PoliciesDirectory);
        ConfigPath = Path.Combine(Root, "config.yaml");
    }

    public string Root { get; }

    public string PoliciesDirectory { get; }

    public string ConfigPath { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public ILocalModelDirectory LocalModels { get; set; } = new StaticLocalModelDirectory(["tiny-local"]);

    public string WriteConfig(string yaml)
    {
        File.WriteAllText(ConfigPath, yaml);
        return ConfigPath;
    }

    /// <summary>Writes policies/&lt;name&gt;.yaml.</summary>
    public string WritePolicy(string yaml, string name = "default")
    {
        var path = Path.Combine(PoliciesDirectory, name + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    /// <summary>
    /// Valid, but confidential prompts may go to clouds (line 3), restricted ones to untrusted peers (line 5), and unsure
    /// ones to public's clouds (line 9).
    /// </summary>
    public const string LeakyPolicy =
        "levels:\n  confidential:\n    allow: [local, cloud]\n  restricted:\n    allow: [local, peer]\n    peers: any\n  public:\n    allow: [local, cloud]\nunsureAs: public\n";

    /// <summary>Copies the repository's policies/default.yaml into this test's policies folder.</summary>
    public string CopyRepoDefaultPolicy() =>
        WritePolicy(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "policies", "default.yaml")));

    public RouterOptions Options(bool withConfig = true, bool watch = false) => new()
    {
        ConfigPath = withConfig ? ConfigPath : null,
        PoliciesDirectory = PoliciesDirectory,
        WatchForChanges = watch,
        ReloadDebounce = TimeSpan.Zero,
    };

    public RoutingSnapshot Load(bool withConfig = true)
    {
        var result = RoutingSnapshotLoader.Load(Options(withConfig), Time.GetUtcNow());
        Assert.True(result.IsValid, string.Join(Environment.NewLine, result.Errors));
        return result.Value!;
    }

    public BackendHealthTracker NewHealth() => new(new HealthOptions(), Time);

    /// <summary>Every named key is found unless a test says otherwise.</summary>
    public IApiKeyResolver Keys { get; set; } = new ApiKeyResolver(_ => "sk-test-key");

    public RoutePlan Route(RoutingSnapshot snapshot, RouteRequest request, IBackendHealth? health = null) =>
        BackendRouter.Plan(snapshot, health ?? NewHealth(), LocalModels, Keys, request);

    public static Classification Classified(PrivacyLevel level, PrivacyLevel? detectors = null, bool unsure = false) =>
        new(level, [], detectors ?? PrivacyLevel.Public, null, unsure);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a watcher may still hold the folder for a moment.
        }
    }
}

/// <summary>A classifier that returns one fixed verdict.</summary>
internal sealed class FixedClassifier(Classification result) : IPrivacyClassifier
{
    public Classification Classify(string text) => result;

    public Classification Classify(string text, string detectorsOnly) => result;
}
