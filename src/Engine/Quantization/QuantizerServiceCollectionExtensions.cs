using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Quantization;

public static class QuantizerServiceCollectionExtensions
{
    /// <summary>Registers the in-process llama.cpp quantiser as <see cref="ILlamaQuantizer"/> (singleton).</summary>
    public static IServiceCollection AddLlamaQuantizer(this IServiceCollection services)
    {
        services.TryAddSingleton<ILlamaQuantizer>(sp => new LlamaQuantizer(
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<ILlamaQuantizer>(),
            sp.GetService<TimeProvider>()));
        return services;
    }
}

/// <summary>The quantiser outside dependency injection (the CLI, benchmarks).</summary>
public static class LlamaQuantizerFactory
{
    /// <summary>
    /// llama.cpp is initialised (idempotently) on the first quantisation with this logger and
    /// <paramref name="nativeDirectory"/> (see <c>LlamaLibrary.Initialize</c>).
    /// </summary>
    public static ILlamaQuantizer Create(ILogger? logger = null, TimeProvider? timeProvider = null, string? nativeDirectory = null) =>
        new LlamaQuantizer(logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, timeProvider, nativeDirectory);
}
