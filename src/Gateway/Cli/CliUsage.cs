using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// Usage errors of the System.CommandLine groups (<c>models</c>, <c>files</c>): one line each on stderr and exit 2, as
/// the groups document, instead of System.CommandLine's exit 1 followed by the whole help text.
/// </summary>
internal static class CliUsage
{
    /// <summary>
    /// The parse errors, each option followed by an argument that cannot be its value by <see cref="CliOptionValue"/>'s
    /// rule (System.CommandLine takes <c>--name --force</c> as the name "--force": a model named "--force"; <c>-o
    /// --force</c> wrote a file of that name; <c>--data --bogus</c> made a folder "--bogus"), and each option given an
    /// empty value. <paramref name="args"/> are the raw arguments: <c>--name=--force</c> says that the value is meant.
    /// </summary>
    public static List<string> Errors(ParseResult parse, IReadOnlyList<string> args)
    {
        var errors = parse.Errors.Select(e => e.Message).ToList();
        if (parse.Action is HelpAction)
        {
            return [];
        }

        var optionNames = new HashSet<string>(StringComparer.Ordinal);
        var valued = new HashSet<string>(StringComparer.Ordinal);
        for (var result = (SymbolResult?)parse.CommandResult; result is not null; result = result.Parent)
        {
            if (result is CommandResult command)
            {
                foreach (var option in command.Command.Options)
                {
                    var names = option.Aliases.Append(option.Name);
                    optionNames.UnionWith(names);
                    if (option.Arity.MinimumNumberOfValues > 0)
                    {
                        valued.UnionWith(names);
                    }
                }
            }
        }

        for (var i = 0; i + 1 < args.Count && args[i] != "--"; i++)
        {
            if (valued.Contains(args[i]) && !CliOptionValue.IsValue(args[i + 1], optionNames))
            {
                errors.Add(CliOptionValue.Missing(args[i], args[i + 1], optionNames));
            }
        }

        foreach (var option in parse.CommandResult.Children.OfType<OptionResult>())
        {
            if (option.Tokens.Any(t => string.IsNullOrWhiteSpace(t.Value)))
            {
                // No option takes an empty value: --models "" and --data "" were stack traces from deep inside.
                errors.Add($"{option.IdentifierToken?.Value ?? option.Option.Name} needs a value, not an empty string.");
            }
        }

        return errors;
    }

    /// <summary>Writes each error as one line, then where the help is; returns the usage exit code.</summary>
    public static int Report(ParseResult parse, IReadOnlyList<string> errors, TextWriter error)
    {
        foreach (var message in errors)
        {
            error.WriteLine($"inference-mesh: {ModelsProgress.Printable(message)}");
        }

        // The root's name is the host's (testhost, dotnet) when not run as the apphost: the command's own name instead.
        var path = new List<string>();
        for (var result = (SymbolResult?)parse.CommandResult; result is CommandResult { Command: not RootCommand } command; result = result.Parent)
        {
            path.Insert(0, command.Command.Name);
        }

        path.Insert(0, "inference-mesh");

        error.WriteLine($"See '{string.Join(' ', path)} --help'.");
        return ModelsCliExit.Usage;
    }
}
