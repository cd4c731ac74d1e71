using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Router.Tests.Configuration;

public sealed class RoutingConfigLoaderTests : IDisposable
{
    private readonly RouterTestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public void Acceptance_block_loads_with_kind_defaults_for_what_it_leaves_out()
    {
        var result = RoutingConfigLoader.Load(_env.WriteConfig(RouterTestEnvironment.AcceptanceConfig));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var cloud = Assert.Single(result.Value!.Remotes);
        Assert.Equal(("cloud-a", BackendKind.OpenAi, BackendClass.Cloud), (cloud.Name, cloud.Kind, cloud.Class));
        Assert.Equal(new Uri("http://127.0.0.1:9101/v1"), cloud.BaseUrl);
        Assert.Equal("CLOUD_A_KEY", cloud.ApiKeyEnv);
        Assert.Equal((0.95, 0.2), (cloud.Quality, cloud.Sovereignty));
        Assert.Equal((RouterDefaults.CloudCostPerMillionTokens, RouterDefaults.CloudLatencyMs, true), (cloud.CostPerMillionTokens, cloud.LatencyMs, cloud.RetainsData));
        Assert.Equal(["*"], cloud.Models);
        Assert.Equal(2, cloud.SourceLine);
        Assert.Equal(RouterDefaults.LocalBackendName, result.Value.Local.Name);
        Assert.Equal("default", result.Value.Policy);
    }

    [Fact]
    public void Local_entry_overrides_local_metadata()
    {
        var result = RoutingConfigLoader.Load(_env.WriteConfig("""
            backends:
              - name: local
                type: local
                quality: 0.8
                latencyMs: 300
            """));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal((0.8, 300.0, 1.0), (result.Value!.Local.Quality, result.Value.Local.LatencyMs, result.Value.Local.Sovereignty));
        Assert.Empty(result.Value.Remotes);
    }

    [Theory]
    [InlineData("/dev/zero", "config file is not a regular file")] // a device that never ends: start-up used to read it forever
    [InlineData("/dev/urandom", "config file is not a regular file")]
    [InlineData("{dir}", "config file is a directory, not a file")]
    [InlineData("{big}", "config file is larger than 1 MiB")]
    [InlineData("{missing}", "config file not found")]
    public void A_path_that_is_no_config_file_is_one_error_naming_it(string path, string reason)
    {
        var big = Path.Combine(_env.Root, "big.yaml");
        File.WriteAllText(big, "# " + new string('x', 1 << 20) + "\n");
        path = path.Replace("{dir}", _env.Root).Replace("{big}", big).Replace("{missing}", Path.Combine(_env.Root, "none.yaml"));

        var result = RoutingConfigLoader.Load(path);

        var error = Assert.Single(result.Errors);
        Assert.Equal((Path.GetFullPath(path), reason), (error.File, error.Reason.Split(" (")[0]));
    }

    [Fact]
    public void A_fifo_config_is_refused_before_it_is_opened()
    {
        // Opening a FIFO with no writer for reading waited forever: start-up and config check hung.
        var path = Path.Combine(_env.Root, "pipe.yaml");
        using var fifo = TestFifo.CreateWithWriterWaiting(path);

        var result = RoutingConfigLoader.Load(path);

        var error = Assert.Single(result.Errors);
        Assert.Equal((path, "config file is not a regular file (a FIFO, a device or a socket)"), (error.File, error.Reason));
    }

    [Fact]
    public void A_config_of_exactly_the_limit_is_read()
    {
        var path = Path.Combine(_env.Root, "padded.yaml");
        var head = "backends: []\n# ";
        File.WriteAllText(path, head + new string('x', (1 << 20) - head.Length));

        var result = RoutingConfigLoader.Load(path);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
    }

    [Fact]
    public void Empty_file_is_a_config_with_only_the_local_backend()
    {
        var result = RoutingConfigLoader.Load(_env.WriteConfig(""));

        Assert.True(result.IsValid);
        Assert.Empty(result.Value!.Remotes);
    }

    [Theory]
    [InlineData("backends:\n  - name: a\n    type: openai\n    baseUrl: [http://x\n", 5, "")] // an unclosed list is noticed at the end of the file
    [InlineData("backends:\n  - name: a\n    type: openai\n    baseUrl: [a\nb]\n", 4, "not valid YAML after this point")] // YamlDotNet gives up without a position
    [InlineData("backends:\n  - name: a\n    type: gemini\n    baseUrl: http://127.0.0.1:1/v1\n", 3, "unknown backend type 'gemini'")]
    [InlineData("backends:\n  - name: a\n    type: openai\n    baseUrl: http://127.0.0.1:1/v1\n  - name: a\n    type: openai\n    baseUrl: http://127.0.0.1:2/v1\n", 5, "duplicate backend name 'a'")]
    [InlineData("backends:\n  - name: a\n    type: openai\n    baseUrl: http://127.0.0.1:1/v1\n    qualty: 0.9\n", 5, "unknown key 'qualty' in a backend")]
    [InlineData("backendz: []\n", 1, "unknown key 'backendz' in the config file")]
    [InlineData("backends:\n  - name: a\n    type: openai\n    baseUrl: http://127.0.0.1:1/v1\n    quality: 1.5\n", 5, "quality must be from 0 to 1 (got 1.5)")]
    [InlineData("backends:\n  - name: a\n    type: openai\n    baseUrl: http://127.0.0.1:1/v1\n    quality: high\n", 5, "quality must be a number (got 'high')")]
    [InlineData("backends:\n  - name: a\n    type: openai\n", 2, "backend 'a' needs a baseUrl")]
    [InlineData("backends:\n  - name: a\n    type: openai\n    baseUrl: ftp://127.0.0.1/v1\n", 4, "baseUrl must be an absolute http or https address")]
    [InlineData("backends:\n  - name: local\n    type: openai\n    baseUrl: http://127.0.0.1:1/v1\n", 2, "reserved for the local backend")]
    [InlineData("backends:\n  - name: a\n    type: openai\n    baseUrl: http://127.0.0.1:1/v1\n    apiKeyEnv: K\n    apiKeyFile: k.txt\n", 2, "sets both apiKeyEnv and apiKeyFile")]
    public void Bad_config_names_file_line_and_reason(string yaml, int line, string reason)
    {
        var path = _env.WriteConfig(yaml);

        var result = RoutingConfigLoader.Load(path);

        Assert.False(result.IsValid);
        var error = Assert.Single(result.Errors);
        Assert.Equal(path, error.File);
        Assert.Equal(line, error.Line);
        Assert.Contains(reason, error.Reason);
        Assert.StartsWith($"{path}:{line}:", error.ToString());
    }

    [Theory]
    [InlineData(30, true)] // 30 lists inside the root mapping and the backends list: 32 levels
    [InlineData(31, false)]
    [InlineData(200_000, false)] // overflowed the stack before (the process aborted)
    public void Nesting_is_limited_to_32_levels(int lists, bool valid)
    {
        var path = _env.WriteConfig("foreign:\n  - " + new string('[', lists) + new string(']', lists) + "\n");

        var result = RoutingConfigLoader.Load(path, ["foreign"]);

        Assert.Equal(valid, result.IsValid);
        if (!valid)
        {
            var error = Assert.Single(result.Errors);
            Assert.Equal((path, 2, 5 + 31 - 1), (error.File, error.Line, error.Column));
            Assert.Contains("nested deeper than 32 levels", error.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Foreign_sections_are_accepted_when_named()
    {
        var path = _env.WriteConfig("server:\n  port: 8080\n" + RouterTestEnvironment.AcceptanceConfig);

        Assert.False(RoutingConfigLoader.Load(path).IsValid);
        Assert.True(RoutingConfigLoader.Load(path, ["server"]).IsValid);
    }

    [Fact]
    public void Api_key_resolver_reads_env_or_file_and_never_prints_the_key()
    {
        var keyFile = Path.Combine(_env.Root, "key.txt");
        File.WriteAllText(keyFile, "sk-file-secret\n");
        var config = RoutingConfigLoader.Load(_env.WriteConfig("""
            backends:
              - name: a
                type: openai
                baseUrl: http://127.0.0.1:1/v1
                apiKeyEnv: A_KEY
              - name: b
                type: anthropic
                baseUrl: http://127.0.0.1:2/v1
                apiKeyFile: key.txt
              - name: c
                type: openai
                baseUrl: http://127.0.0.1:3/v1
                apiKeyEnv: UNSET_KEY
            """)).Value!;
        var resolver = new ApiKeyResolver(name => name == "A_KEY" ? "sk-env-secret" : null);

        var a = resolver.Resolve(config.Remotes[0]);
        var b = resolver.Resolve(config.Remotes[1]);
        var c = resolver.Resolve(config.Remotes[2]);

        Assert.Equal((ApiKeyStatus.Found, "sk-env-secret"), (a.Status, a.Key));
        Assert.Equal((ApiKeyStatus.Found, "sk-file-secret"), (b.Status, b.Key));
        Assert.Equal(ApiKeyStatus.Missing, c.Status);
        Assert.DoesNotContain("secret", a.ToString());
        Assert.DoesNotContain("secret", b.ToString());
        Assert.Equal(ApiKeyStatus.NotConfigured, resolver.Resolve(config.Local).Status);
    }

    [Fact]
    public void Router_options_defaults_and_validation()
    {
        var options = new RouterOptions();

        Assert.Null(options.ConfigPath);
        Assert.Equal("policies", options.PoliciesDirectory);
        Assert.True(options.WatchForChanges);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.ReloadDebounce);
        Assert.Null(options.Validate());
        Assert.Equal("The reload debounce must be from 0 to 1 minute (got -00:00:01).", (options with { ReloadDebounce = TimeSpan.FromSeconds(-1) }).Validate());
        Assert.Equal("The policies folder must be named.", (options with { PoliciesDirectory = " " }).Validate());
    }
}
