using System.ComponentModel.DataAnnotations;
using System.Reflection;

namespace InferenceMesh.Classifier.Model;

/// <summary>Creates the prompt model outside dependency injection (tools, benchmarks, tests).</summary>
public static class PromptModelFactory
{
    /// <summary>
    /// Loads the model embedded in this assembly, or <see cref="PromptModelOptions.ModelPath"/> when set,
    /// and checks its metadata against this build's featuriser. The result is thread-safe and meant to
    /// live as long as the process; it is <see cref="IDisposable"/> (dispose it once no call is in flight).
    /// </summary>
    /// <exception cref="ValidationException">The options are invalid.</exception>
    /// <exception cref="InvalidDataException">The model is missing, corrupt or does not match the featuriser.</exception>
    public static IPromptModel CreateDefault(PromptModelOptions? options = null) => Create(options ?? new PromptModelOptions());

    internal static OnnxPromptModel Create(PromptModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);

        if (options.ModelPath is { } path)
        {
            if (!File.Exists(path))
            {
                throw new InvalidDataException($"The prompt model file '{path}' does not exist.");
            }

            return OnnxPromptModel.Load(File.ReadAllBytes(path), path, options);
        }

        return OnnxPromptModel.Load(ReadEmbeddedModel(), "embedded:" + PromptModelConstants.EmbeddedResourceName, options);
    }

    internal static byte[] ReadEmbeddedModel()
    {
        var assembly = typeof(PromptModelFactory).Assembly;
        using var stream = assembly.GetManifestResourceStream(PromptModelConstants.EmbeddedResourceName)
            ?? throw new InvalidDataException(
                $"The embedded prompt model '{PromptModelConstants.EmbeddedResourceName}' is missing from {assembly.GetName().Name}; " +
                "check the EmbeddedResource item in InferenceMesh.Classifier.csproj.");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
