using InferenceMesh.Classifier;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.Bench.Classifier;

/// <summary>The classifier as the gateway builds it, through the public registration.</summary>
internal static class Classifiers
{
    /// <summary>With a constant stand-in model: what is measured is the detector pass and the combination.</summary>
    public static IPrivacyClassifier DetectorsOnly() => Build(new ConstantPromptModel());

    /// <summary>With the embedded ONNX prompt model; null when it cannot be loaded (the reason is printed).</summary>
    public static IPrivacyClassifier? WithModel()
    {
        try
        {
            var services = new ServiceCollection();
            services.AddPromptModel();
            var provider = services.BuildServiceProvider();
            provider.GetRequiredService<IPromptModel>(); // load now, and fail here rather than fail closed silently
            services.AddPrivacyClassifier();
            return services.BuildServiceProvider().GetRequiredService<IPrivacyClassifier>();
        }
        catch (Exception exception)
        {
            Console.Error.WriteLine($"The prompt model is not available ({exception.GetType().Name}: {exception.Message}); skipping the model runs.");
            return null;
        }
    }

    private static IPrivacyClassifier Build(IPromptModel model)
    {
        var services = new ServiceCollection();
        services.AddSingleton(model);
        services.AddPrivacyClassifier();
        return services.BuildServiceProvider().GetRequiredService<IPrivacyClassifier>();
    }

    private sealed class ConstantPromptModel : IPromptModel
    {
        private static readonly ModelPrediction Prediction = new(PrivacyLevel.Public, 0.99f, TaskType.Code, 0.9f, Complexity.Medium, 0.9f);

        public ModelPrediction Predict(string text) => Prediction;
    }
}
