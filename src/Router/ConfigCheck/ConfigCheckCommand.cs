using System.Globalization;
using InferenceMesh.Classifier;
using InferenceMesh.Router.Configuration;
using InferenceMesh.Router.Health;
using InferenceMesh.Router.Policies;
using InferenceMesh.Router.Routing;

namespace InferenceMesh.Router.ConfigCheck;

/// <summary>
/// <c>config check</c>: validates the config file and every policy in the policies folder, then
/// prints the plan for a sample prompt. Prints backend names, key status and classification
/// results; never the prompt's matched text or a key's value.
/// </summary>
public static class ConfigCheckCommand
{
    public const int ExitOk = 0;
    public const int ExitInvalid = 1;

    /// <param name="configPath">The gateway config file; null checks the policy with the implicit local backend only.</param>
    /// <param name="policiesDirectory">The policies folder.</param>
    /// <param name="samplePrompt">A prompt to classify and route (model "auto" unless <paramref name="model"/> says otherwise).</param>
    /// <param name="classifier">The classifier; null routes the sample as unclassified (confidential).</param>
    /// <param name="output">Where the report goes.</param>
    /// <param name="localModels">The local models; null assumes one local model named "local-default".</param>
    /// <param name="model">The model to route the sample for. The default value is "auto".</param>
    /// <param name="foreignConfigSections">Top-level config keys owned by the gateway.</param>
    /// <param name="environment">Environment lookup for API key status; null uses the process environment.</param>
    /// <returns>0 when config and policies are valid, 1 otherwise.</returns>
    public static int Run(
        string? configPath,
        string policiesDirectory,
        string samplePrompt,
        IPrivacyClassifier? classifier,
        TextWriter output,
        ILocalModelDirectory? localModels = null,
        string model = RouterDefaults.AutoModel,
        IReadOnlyList<string>? foreignConfigSections = null,
        Func<string, string?>? environment = null)
    {
        var options = new RouterOptions
        {
            ConfigPath = configPath,
            PoliciesDirectory = policiesDirectory,
            ForeignConfigSections = foreignConfigSections ?? [],
            WatchForChanges = false,
        };

        var errors = new List<ConfigError>();
        var loaded = RoutingSnapshotLoader.Load(options, TimeProvider.System.GetUtcNow());
        errors.AddRange(loaded.Errors);

        // Every policy in the folder, not only the active one: a broken spare policy is a start-up failure waiting to happen.
        var activePolicy = loaded.Value?.Policy.SourceFile;
        if (Directory.Exists(policiesDirectory))
        {
            foreach (var file in Directory.EnumerateFiles(policiesDirectory, "*.yaml").Concat(Directory.EnumerateFiles(policiesDirectory, "*.yml")).Order(StringComparer.Ordinal))
            {
                var full = Path.GetFullPath(file);
                if (full == activePolicy || errors.Any(e => e.File == full))
                {
                    continue;
                }

                var policy = PolicyLoader.Load(full);
                errors.AddRange(policy.Errors);
                output.WriteLine(policy.IsValid ? $"policy {full}: ok" : $"policy {full}: INVALID");
            }
        }

        if (errors.Count > 0 || loaded.Value is not { } snapshot)
        {
            foreach (var error in errors)
            {
                output.WriteLine($"error: {error}");
            }

            output.WriteLine($"config check failed: {errors.Count} error(s).");
            return ExitInvalid;
        }

        output.WriteLine(configPath is null ? "config: none (local backend only)" : $"config {snapshot.Config.SourceFile}: ok");
        output.WriteLine($"policy '{snapshot.Policy.Name}' ({snapshot.Policy.SourceFile}): ok");
        foreach (var warning in snapshot.Warnings)
        {
            output.WriteLine($"warning: {warning}");
        }

        var w = snapshot.Policy.Weights;
        output.WriteLine(Invariant($"weights: quality {w.Quality:0.###}, cost {w.Cost:0.###}, latency {w.Latency:0.###}, sovereignty {w.Sovereignty:0.###}"));
        output.WriteLine("backends:");
        var keys = new ApiKeyResolver(environment ?? Environment.GetEnvironmentVariable);
        foreach (var b in snapshot.Backends)
        {
            var key = b.Kind == BackendKind.Local ? string.Empty : $", key {keys.Resolve(b)}";
            output.WriteLine(Invariant(
                $"  {b.Name} ({b.Kind.Name()}): quality {b.Quality:0.###}, sovereignty {b.Sovereignty:0.###}, cost {b.CostPerMillionTokens:0.###}/Mtok, latency {b.LatencyMs:0}ms, jurisdiction {(b.Kind == BackendKind.Local ? "this machine" : b.Jurisdiction ?? "unknown")}, retains data {(b.RetainsData ? "yes" : "no")}{key}"));
        }

        localModels ??= new StaticLocalModelDirectory(["local-default"]);
        output.WriteLine($"local models: {(localModels.Models.Count == 0 ? "none" : string.Join(", ", localModels.Models))}");

        Classification? classification = null;
        if (classifier is null)
        {
            output.WriteLine("sample: not classified (no classifier): routed as confidential");
        }
        else
        {
            classification = classifier.Classify(samplePrompt);
            var kinds = classification.Findings.Count == 0 ? "none" : string.Join(", ", classification.Findings.Select(f => f.Kind).Distinct());
            output.WriteLine($"sample: classified {PrivacyHeader.Format(classification.Privacy)}{(classification.Unsure ? " (unsure)" : string.Empty)}, findings: {kinds}");
        }

        var health = new BackendHealthTracker(new HealthOptions(), TimeProvider.System);
        var plan = BackendRouter.Plan(snapshot, health, localModels, keys, new RouteRequest { Model = model, Classification = classification });
        WritePlan(output, plan);
        return ExitOk;
    }

    /// <summary>Writes a plan as text: privacy decision, steps with score terms, exclusions.</summary>
    public static void WritePlan(TextWriter output, RoutePlan plan)
    {
        output.WriteLine($"privacy: {PrivacyHeader.Format(plan.Privacy.Level)} ({string.Join("; ", plan.Privacy.Reasons)})");
        output.WriteLine($"plan for model '{plan.RequestedModel}' (policy '{plan.PolicyName}'):");
        if (plan.IsEmpty)
        {
            output.WriteLine($"  (empty) {plan.EmptyReason}");
        }

        var position = 1;
        foreach (var step in plan.Steps)
        {
            var b = step.Breakdown;
            output.WriteLine(Invariant(
                $"  {position++}. {step.Backend} model '{step.UpstreamModel}'{(step.ViaAlias ? " (alias)" : string.Empty)} score {step.Score:0.000} = {b.Weighted:0.000} x health {b.HealthFactor:0.00} [quality {b.Quality:0.000}, cost {b.Cost:0.000}, latency {b.Latency:0.000} ({b.LatencyMs:0}ms {(b.LatencyMeasured ? "measured" : "declared")}), sovereignty {b.Sovereignty:0.000}]"));
        }

        foreach (var exclusion in plan.Exclusions)
        {
            output.WriteLine($"  excluded {exclusion.Backend}: {exclusion.Reason}");
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
