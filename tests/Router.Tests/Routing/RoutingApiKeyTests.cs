using InferenceMesh.Classifier;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Routing;
using InferenceMesh.Router.Tests.Common;
using static InferenceMesh.Router.Tests.Common.RouterTestEnvironment;

namespace InferenceMesh.Router.Tests.Routing;

/// <summary>A backend whose named key cannot be found is left out by the router, visibly, never skipped later.</summary>
public sealed class RoutingApiKeyTests : IDisposable
{
    private static readonly RouteRequest PublicAuto = new() { Classification = Classified(PrivacyLevel.Public) };
    private readonly RouterTestEnvironment _env = new();

    public RoutingApiKeyTests() => _env.CopyRepoDefaultPolicy();

    public void Dispose() => _env.Dispose();

    [Fact]
    public void Unset_key_variable_excludes_the_backend_with_missing_api_key()
    {
        _env.WriteConfig(AcceptanceConfig);
        _env.Keys = new ApiKeyResolver(_ => null);

        var plan = _env.Route(_env.Load(), PublicAuto);

        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
        var exclusion = Assert.Single(plan.Exclusions);
        Assert.Equal(("cloud-a", ExclusionCode.MissingApiKey), (exclusion.Backend, exclusion.Code));
        Assert.Equal("its API key is missing (environment variable CLOUD_A_KEY)", exclusion.Reason);
    }

    [Fact]
    public void Missing_key_file_excludes_the_backend_and_a_found_key_keeps_it()
    {
        _env.WriteConfig("""
            backends:
              - name: cloud-file
                type: openai
                baseUrl: http://127.0.0.1:9101/v1
                apiKeyFile: secrets/cloud.key
                quality: 0.95
              - name: cloud-env
                type: anthropic
                baseUrl: http://127.0.0.1:9102/v1
                apiKeyEnv: CLOUD_ENV_KEY
                quality: 0.95
            """);
        _env.Keys = new ApiKeyResolver(name => name == "CLOUD_ENV_KEY" ? "sk-ant-test" : null);

        var plan = _env.Route(_env.Load(), PublicAuto);

        Assert.Equal(["cloud-env", "local"], plan.Steps.Select(s => s.Backend));
        var exclusion = Assert.Single(plan.Exclusions);
        Assert.Equal(("cloud-file", ExclusionCode.MissingApiKey), (exclusion.Backend, exclusion.Code));
        Assert.StartsWith("its API key is missing (file ", exclusion.Reason);
    }

    [Theory]
    [InlineData("/dev/zero")] // never ends: each lookup used to read it until memory ran out
    [InlineData("{dir}")]
    public void A_key_file_that_is_a_device_or_a_directory_is_unreadable_not_read(string path)
    {
        path = path.Replace("{dir}", _env.Root);
        var resolver = new ApiKeyResolver(_ => null);

        var lookup = resolver.Resolve(new BackendConfig { Name = "cloud-file", Kind = BackendKind.OpenAi, ApiKeyFile = path });

        Assert.Equal(ApiKeyStatus.Unreadable, lookup.Status);
        Assert.Null(lookup.Key);
    }

    [Fact]
    public void A_key_file_that_is_a_fifo_is_unreadable_not_waited_on()
    {
        // Each lookup (every routed request) opened it and waited for a writer that never came.
        var path = Path.Combine(_env.Root, "key.pipe");
        using var fifo = InferenceMesh.Tests.TestFifo.CreateWithWriterWaiting(path);
        var resolver = new ApiKeyResolver(_ => null);

        var lookup = resolver.Resolve(new BackendConfig { Name = "cloud-file", Kind = BackendKind.OpenAi, ApiKeyFile = path });

        Assert.Equal(ApiKeyStatus.Unreadable, lookup.Status);
    }

    [Fact]
    public void A_backend_that_names_no_key_is_keyless_and_stays()
    {
        _env.WriteConfig("""
            backends:
              - name: vllm
                type: openai
                baseUrl: http://127.0.0.1:9101/v1
                quality: 0.95
            """);
        _env.Keys = new ApiKeyResolver(_ => null);

        var plan = _env.Route(_env.Load(), PublicAuto);

        Assert.Equal(["vllm", "local"], plan.Steps.Select(s => s.Backend));
    }

    [Fact]
    public void Privacy_is_reported_before_a_missing_key()
    {
        _env.WriteConfig(AcceptanceConfig);
        _env.Keys = new ApiKeyResolver(_ => null);

        var plan = _env.Route(_env.Load(), new RouteRequest { Classification = Classified(PrivacyLevel.Confidential) });

        Assert.Equal(ExclusionCode.PrivacyClass, Assert.Single(plan.Exclusions).Code);
    }
}
