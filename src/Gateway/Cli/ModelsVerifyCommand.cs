using System.CommandLine;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>models verify [--models DIR] [--no-refetch]</c>: re-hashes every file of the store. Exit 0 when every file
/// matches; otherwise 1, naming each file that did not (it is quarantined and, when a source is known, fetched again).
/// A loose file replaced or written since it was hashed is named (CHANGED) and left alone: a new file, not corruption.
/// </summary>
internal static class ModelsVerifyCommand
{
    public static Command Create(ModelsCliEnvironment environment)
    {
        var models = ModelsCliEnvironment.ModelsOption();
        var noRefetch = new Option<bool>("--no-refetch") { Description = "Quarantine mismatches without downloading them again." };
        var command = new Command("verify", "Re-hash every model file; quarantine and re-fetch any that does not match.") { models, noRefetch };
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            if (!ModelsCliEnvironment.GivenModelsFolderExists(parse, models))
            {
                return ModelsCliExit.Usage;
            }

            var store = environment.OpenStore(parse.GetRequiredValue(models));
            var console = ModelsCliEnvironment.ProgressConsole(error);
            await ModelsProgress.HashAsync(console, "Hashing new model files", p => store.SyncLooseFilesAsync(p, ct));
            var report = await ModelsProgress.HashAsync(console, "Verifying", p => store.VerifyAsync(p, ct));
            foreach (var file in report.Files.Where(f => f.Outcome == VerifyOutcome.Ok))
            {
                await output.WriteLineAsync($"ok\t{ModelsProgress.Printable(string.Join(",", file.Names))}\t{file.Path}");
            }

            foreach (var file in report.Files.Where(f => f.Outcome == VerifyOutcome.Changed))
            {
                await error.WriteLineAsync($"CHANGED {file.Path} ({ModelsProgress.Printable(string.Join(", ", file.Names))}): replaced or written since it was hashed; left alone, the next 'models list' or 'models verify' hashes it again");
            }

            var bad = report.Files.Where(f => f.Outcome is VerifyOutcome.Quarantined or VerifyOutcome.Missing).ToList();
            foreach (var file in bad)
            {
                var names = ModelsProgress.Printable(string.Join(", ", file.Names));
                await error.WriteLineAsync(file.Outcome == VerifyOutcome.Missing
                    ? $"MISSING {file.Path} ({names}): expected sha256 {file.Expected}"
                    : $"MISMATCH {file.Path} ({names}): expected sha256 {file.Expected}, found {file.Actual}; moved to {file.QuarantinePath}");
                if (parse.GetValue(noRefetch))
                {
                    continue;
                }

                if (file.Sources.Count == 0)
                {
                    await error.WriteLineAsync($"  no known source to fetch it again; pull it with --sha256 {file.Expected}");
                    continue;
                }

                var result = await environment.CreateDownloader(store).RefetchAsync(file, null, ct);
                await error.WriteLineAsync(result.Succeeded
                    ? $"  fetched again from its sources: {result.Model?.Path}"
                    : $"  could not fetch it again: {ModelsProgress.Printable(result.Message ?? result.Error.ToString())}");
            }

            await output.WriteLineAsync(bad.Count == 0
                ? $"{report.Files.Count} files verified."
                : $"{bad.Count} of {report.Files.Count} files did not match.");
            return bad.Count == 0 ? ModelsCliExit.Ok : ModelsCliExit.Failed;
        });
        return command;
    }
}
