using InferenceMesh.Classifier;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the privacy classifier.</summary>
public static class PrivacyClassifierServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IPrivacyClassifier"/> as a singleton, with the embedded ONNX prompt model
    /// (<see cref="PromptModelServiceCollectionExtensions.AddPromptModel"/>) unless an <see cref="IPromptModel"/> is
    /// already registered. A model that fails to load does not fail the host: every prompt is then classified at least
    /// Confidential (fail closed), and the failure is logged once.
    /// </summary>
    /// <exception cref="System.ComponentModel.DataAnnotations.ValidationException">The options are invalid.</exception>
    public static IServiceCollection AddPrivacyClassifier(this IServiceCollection services, PrivacyClassifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        options ??= new PrivacyClassifierOptions();
        options.Validate();

        services.AddPromptModel();
        services.TryAddSingleton<IPrivacyClassifier>(provider =>
        {
            var logger = provider.GetService<ILoggerFactory>()?.CreateLogger<PrivacyClassifier>() ?? NullLogger<PrivacyClassifier>.Instance;
            IPromptModel? model;
            try
            {
                model = provider.GetService<IPromptModel>();
            }
            catch (Exception exception)
            {
                // model load errors carry file names and metadata, never prompt text
                PrivacyClassifier.LogModelLoadFailed(logger, exception);
                model = null;
            }

            return new PrivacyClassifier(model, options, logger);
        });
        return services;
    }
}
