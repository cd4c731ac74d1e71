using InferenceMesh.Classifier;
using InferenceMesh.Classifier.Model;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the prompt model.</summary>
public static class PromptModelServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IPromptModel"/> as a singleton (loaded on first use, disposed with the container),
    /// from the embedded model unless <paramref name="configure"/> sets <see cref="PromptModelOptions.ModelPath"/>.
    /// A model that does not match the featuriser fails that first resolution with <see cref="InvalidDataException"/>.
    /// </summary>
    public static IServiceCollection AddPromptModel(this IServiceCollection services, Func<PromptModelOptions, PromptModelOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = configure?.Invoke(new PromptModelOptions()) ?? new PromptModelOptions();
        services.TryAddSingleton<IPromptModel>(provider =>
        {
            var model = PromptModelFactory.Create(options);
            var logger = provider.GetService<ILoggerFactory>()?.CreateLogger("InferenceMesh.Classifier.Model.PromptModel")
                ?? NullLogger.Instance;
            PromptModelLog.Loaded(
                logger,
                model.Source,
                model.Metadata.GetValueOrDefault(PromptModelMetadata.DatasetVersionKey, "?"),
                model.Metadata.GetValueOrDefault(PromptModelMetadata.TrainingSeedKey, "?"));
            return model;
        });
        return services;
    }
}
