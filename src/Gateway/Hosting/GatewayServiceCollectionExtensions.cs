using System.Net;
using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Responses;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Storage;
using InferenceMesh.Gateway.Context;
using InferenceMesh.Engine.Hosting;
using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.Metrics;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Security;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Backends.Anthropic;
using InferenceMesh.Gateway.Backends.OpenAi;
using InferenceMesh.Gateway.Backends.Resilience;
using InferenceMesh.Gateway.Routing;
using InferenceMesh.Gateway.Mesh;
using InferenceMesh.Gateway.Rag;
using InferenceMesh.Gateway.Torrents;
using InferenceMesh.Router;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace InferenceMesh.Gateway.Hosting;

/// <summary>The gateway's composition: Kestrel, JSON, its own services, and the engine and catalog hooks.</summary>
internal static class GatewayServiceCollectionExtensions
{
    /// <summary>Everything the gateway needs, from validated options.</summary>
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder, GatewayOptions options)
    {
        builder.Services.AddSingleton(options);
        builder.Services.TryAddSingleton(TimeProvider.System);

        // ASP.NET Core's per-request Information lines cost time on the hot path and say nothing
        // our metrics don't; warnings and errors still show.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Yarp", LogLevel.Warning);
        builder.AddGatewayKestrel(options);
        // Responses are written with the source-generated contexts' own options (see OpenAi/JsonOk.cs);
        // the HTTP JSON options only matter for anything the framework writes itself.
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, OpenAiJsonContext.Default));
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddSingleton<HostAllowList>();
        builder.Services.AddSingleton<InferenceService>();
        builder.Services.AddInferenceBackends(options);
        builder.Services.AddGatewayRouting(options);
        builder.Services.AddMesh(options);
        builder.Services.AddModelTorrents(options);
        builder.Services.AddContextStore(new ContextStoreOptions { DataDirectory = options.DataDirectory, Extensions = [SqliteVec.LibraryPath] });
        builder.Services.AddChatContext(new ConversationStoreOptions
        {
            Enabled = options.HistoryEnabled,
            Retention = options.HistoryRetentionDays is { } days ? TimeSpan.FromDays(days) : null,
        }, new ResponseStoreOptions { Retention = TimeSpan.FromDays(options.ResponseRetentionDays) });
        builder.Services.AddGatewayRag(options);
        return builder;
    }

    /// <summary>
    /// Classifier, router (config and policy loaded now: a bad file throws <see cref="RoutingConfigException"/>
    /// with file, line and reason) and the remote backends with their resilience pipelines.
    /// </summary>
    public static IServiceCollection AddGatewayRouting(this IServiceCollection services, GatewayOptions options)
    {
        services.AddSingleton<ILocalModelDirectory, CatalogLocalModels>();
        services.AddPrivacyClassifier();
        services.AddInferenceRouter(new RouterOptions { ConfigPath = options.ConfigPath, PoliciesDirectory = options.PoliciesDirectory, ForeignConfigSections = [MeshGatewayExtensions.ConfigSection] });
        services.AddHttpForwarder();
        services.TryAddSingleton(new BackendOptions());
        services.AddSingleton(sp => new BackendTransport(sp.GetRequiredService<BackendOptions>()));
        services.AddSingleton<IChatBackend, OpenAiChatBackend>();
        // Anthropic Messages (Backends/Anthropic): translated, same transport and resilience as the OpenAI backend.
        services.AddSingleton(sp => new AnthropicUpstreamClient(
            sp.GetRequiredService<BackendTransport>().Invoker,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<AnthropicUpstreamClient>>(),
            sp.GetRequiredService<BackendOptions>().ToAnthropicOptions()));
        services.AddSingleton<IChatBackend, AnthropicChatBackend>();
        services.AddSingleton<BackendPipelines>();
        services.AddSingleton<Lora.LoraRequests>();
        services.AddSingleton<ChatRouting>();
        services.AddSingleton<ChatExecutor>();
        return services;
    }

    /// <summary>Listens on exactly the configured address (127.0.0.1:8080 by default), with the body size limit.</summary>
    public static WebApplicationBuilder AddGatewayKestrel(this WebApplicationBuilder builder, GatewayOptions options)
    {
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            if (string.Equals(options.Host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                kestrel.ListenLocalhost(options.Port);
            }
            else
            {
                kestrel.Listen(IPAddress.Parse(options.Host), options.Port);
            }
        });
        return builder;
    }

    /// <summary>The two hooks of the other projects: the catalog (IModelCatalog) and the local engine (IModelHost).</summary>
    public static IServiceCollection AddInferenceBackends(this IServiceCollection services, GatewayOptions options)
    {
        services.AddLocalEngine(new EngineOptions
        {
            Threads = options.Threads,
            AdaptiveThreads = options.AdaptiveThreads,
            Slots = options.Slots,
            SlotContextLength = options.ContextLength,
            FileCheck = path => GgufReader.Read(path) is { IsValid: false, Error: { } invalid } ? invalid.ToString() : null,
        });

        services.AddModelCatalog(options.ModelsDirectory);
        return services;
    }
}
