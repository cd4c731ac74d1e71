using System.CommandLine;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>inference-mesh models …</c>: the model cache's command group (System.CommandLine, Spectre.Console progress on
/// stderr, results on stdout). Each subcommand is its own <c>Models*Command.cs</c>; Program.cs only dispatches here.
/// Exit codes: 0 done, 1 the operation failed (named on stderr), 2 bad arguments, 130 cancelled (Ctrl-C).
/// </summary>
internal static class ModelsCli
{
    public static bool Matches(IReadOnlyList<string> args) => args is ["models", ..];

    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error) =>
        RunAsync(args, output, error, new ModelsCliEnvironment(), CancellationToken.None);

    /// <summary>In-process entry (tests): the environment carries the clock, download options and logging.</summary>
    internal static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, ModelsCliEnvironment environment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var root = new RootCommand("inference-mesh") { Create(environment) };
        var parsed = root.Parse(args);
        if (CliUsage.Errors(parsed, args) is { Count: > 0 } usageErrors)
        {
            return CliUsage.Report(parsed, usageErrors, error);
        }

        // Ctrl-C cancels the action's token; the action then keeps a resumable partial and reports (well within 10 s).
        var configuration = new InvocationConfiguration
        {
            Output = output,
            Error = error,
            ProcessTerminationTimeout = TimeSpan.FromSeconds(10),
            EnableDefaultExceptionHandler = false,
        };
        try
        {
            return await parsed.InvokeAsync(configuration, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C cancels System.CommandLine's own token, not the caller's: a filter on the caller's missed it (a
            // TaskCanceledException stack trace, exit 1).
            await error.WriteLineAsync("inference-mesh: cancelled.");
            return ModelsCliExit.Cancelled;
        }
        catch (ModelStoreOpenException ex)
        {
            await error.WriteLineAsync($"inference-mesh: {ex.Message}");
            return ModelsCliExit.Failed;
        }
        catch (Exception ex)
        {
            // What System.CommandLine's default handler printed: a bug, so the stack trace helps.
            await error.WriteLineAsync($"Unhandled exception: {ex}");
            return ModelsCliExit.Failed;
        }
    }

    /// <summary>The <c>models</c> command with every subcommand.</summary>
    internal static Command Create(ModelsCliEnvironment environment)
    {
        var models = new Command("models", "Manage the local model store: list, pull, share, verify, rm, quantize, recommend, adapter.")
        {
            ModelsListCommand.Create(environment),
            ModelsPullCommand.Create(environment),
            ModelsShareCommand.Create(environment),
            ModelsVerifyCommand.Create(environment),
            ModelsRmCommand.Create(environment),
            ModelsQuantizeCommand.Create(environment),
            ModelsRecommendCommand.Create(environment),
            ModelsAdapterCommand.Create(environment),
        };
        return models;
    }
}

/// <summary>Exit codes of the <c>models</c> commands.</summary>
internal static class ModelsCliExit
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Cancelled = 130;
}
