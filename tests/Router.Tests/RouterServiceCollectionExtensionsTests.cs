using InferenceMesh.Classifier;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Health;
using InferenceMesh.Router.Routing;
using InferenceMesh.Router.Tests.Common;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.Router.Tests;

public sealed class RouterServiceCollectionExtensionsTests : IDisposable
{
    private readonly RouterTestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public void Registers_a_working_router()
    {
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig);
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton<ILocalModelDirectory>(new StaticLocalModelDirectory(["tiny-local"]))
            .AddSingleton(_env.Keys) // registered first: the router's TryAdd keeps it
            .AddInferenceRouter(_env.Options(), time: _env.Time);
        using var provider = services.BuildServiceProvider();

        var plan = provider.GetRequiredService<IRouter>().Route(new RouteRequest { Classification = RouterTestEnvironment.Classified(PrivacyLevel.Public) });

        Assert.Equal(["cloud-a", "local"], plan.Steps.Select(s => s.Backend));
        Assert.NotNull(provider.GetRequiredService<IBackendHealth>());
        Assert.Same(_env.Keys, provider.GetRequiredService<IApiKeyResolver>());
    }

    [Fact]
    public void The_registered_router_leaves_out_a_backend_whose_key_is_missing()
    {
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig.Replace("CLOUD_A_KEY", $"IM_UNSET_{Guid.NewGuid():N}", StringComparison.Ordinal));
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton<ILocalModelDirectory>(new StaticLocalModelDirectory(["tiny-local"]))
            .AddInferenceRouter(_env.Options(), time: _env.Time);
        using var provider = services.BuildServiceProvider();

        var plan = provider.GetRequiredService<IRouter>().Route(new RouteRequest { Classification = RouterTestEnvironment.Classified(PrivacyLevel.Public) });

        Assert.Equal(["local"], plan.Steps.Select(s => s.Backend));
        Assert.Equal(ExclusionCode.MissingApiKey, Assert.Single(plan.Exclusions).Code);
    }

    [Fact]
    public void Bad_config_stops_start_up_with_every_error()
    {
        _env.WriteConfig("backends:\n  - name: a\n    type: gemini\n  - name: b\n    type: openai\n    baseUrl: http://127.0.0.1:1/v1\n    quality: 2\n");

        var ex = Assert.Throws<RoutingConfigException>(() => new ServiceCollection().AddInferenceRouter(_env.Options()));

        Assert.Equal([3, 7], ex.Errors.Select(e => e.Line));
        Assert.Contains($"{_env.ConfigPath}:3:11: unknown backend type 'gemini'", ex.Message);
    }
}
