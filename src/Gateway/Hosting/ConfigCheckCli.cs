using InferenceMesh.Classifier;
using InferenceMesh.Gateway.Routing;
using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.Router.ConfigCheck;
using InferenceMesh.Router.Configuration;

namespace InferenceMesh.Gateway.Hosting;

/// <summary><c>inference-mesh config check [--config FILE] [--policies DIR] [--models DIR] [--prompt TEXT] [--model NAME]</c>.</summary>
internal static class ConfigCheckCli
{
    public const string DefaultPrompt = "Summarise the plot of a well-known novel in three sentences.";

    public static bool IsConfigCheck(IReadOnlyList<string> args) => args is ["config", "check", ..];

    /// <returns>0 valid, 1 invalid config or policy, 2 bad flags.</returns>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        string? config = null, prompt = null, model = null, models = null;
        var policies = GatewayDefaults.PoliciesDirectory();
        for (var i = 2; i < args.Count; i++)
        {
            var name = args[i];
            string? value = null;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }
            else if (i + 1 < args.Count && Cli.CliOptionValue.IsValue(args[i + 1], GatewayCommandLine.HelpFlags))
            {
                value = args[++i]; // "--config --prompt x" read "--prompt" as the config file's name
            }

            if (value is null)
            {
                error.WriteLine($"inference-mesh: {name} needs a value (see --help).");
                return 2;
            }

            if (name == "--config" && GatewayCommandLine.FileProblem(name, Path.GetFullPath(value)) is { } fileProblem)
            {
                error.WriteLine($"inference-mesh: {fileProblem}");
                return 2;
            }

            if (name is "--policies" or "--models" && GatewayCommandLine.FolderProblem(name, Path.GetFullPath(value), mustExist: name == "--policies") is { } problem)
            {
                error.WriteLine($"inference-mesh: {problem}");
                return 2;
            }

            switch (name)
            {
                case "--config": config = Path.GetFullPath(value); break;
                case "--policies": policies = Path.GetFullPath(value); break;
                case "--prompt": prompt = value; break;
                case "--model": model = value; break;
                case "--models": models = Path.GetFullPath(value); break;
                default:
                    error.WriteLine($"inference-mesh: unknown flag '{name}' for config check (see --help).");
                    return 2;
            }
        }

        var services = new ServiceCollection().AddLogging().AddPrivacyClassifier();
        using var provider = services.BuildServiceProvider();
        var classifier = provider.GetRequiredService<IPrivacyClassifier>();
        var catalog = ModelCatalogFactory.Create(new ModelCatalogOptions { Directory = models ?? GatewayDefaults.ModelsDirectory() });
        return ConfigCheckCommand.Run(
            config, policies, prompt ?? DefaultPrompt, classifier, output,
            new CatalogLocalModels(catalog), model ?? RouterDefaults.AutoModel);
    }
}
