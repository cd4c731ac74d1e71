namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// The one rule every command reads an option's value by (the gateway's flags, <c>config check</c>, <c>mesh</c>,
/// <c>models</c>, <c>files</c>): the argument after an option is its value unless it starts with <c>--</c> or is
/// one of the command's option names (<c>-h</c>, <c>-o</c>, <c>-n</c>, …); then the option is missing its value
/// (<c>--data --json</c> made a folder named "--json"). A value that does start with <c>--</c> is written
/// <c>--data=--json</c>. A value that starts with one <c>-</c> is a value (<c>--data -x</c>, <c>-o -</c>); a file
/// argument that starts with <c>-</c> is written <c>./-x</c>, or after <c>--</c>.
/// </summary>
internal static class CliOptionValue
{
    /// <summary>True when <paramref name="argument"/> may be the value of the option before it.</summary>
    public static bool IsValue(string argument, IReadOnlySet<string> optionNames) =>
        !argument.StartsWith("--", StringComparison.Ordinal) && !optionNames.Contains(argument);

    /// <summary>The error for an option followed by an argument that cannot be its value.</summary>
    public static string Missing(string option, string argument, IReadOnlySet<string> optionNames) =>
        optionNames.Contains(argument)
            ? $"{option} needs a value, not the option '{argument}'."
            : $"{option} needs a value, not '{argument}' (a value that starts with '--' is written {option}={argument}).";
}
