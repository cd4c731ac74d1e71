using System.CommandLine;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.ModelCache.Downloads;
using InferenceMesh.ModelCache.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;

namespace InferenceMesh.Gateway.Cli;

/// <summary>What the <c>models</c> commands share: the clock, download options, logging, and the option they all take.</summary>
internal sealed record ModelsCliEnvironment
{
    public TimeProvider Time { get; init; } = TimeProvider.System;

    public DownloadOptions Download { get; init; } = new();

    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Used instead of a new client when set (tests).</summary>
    public HttpClient? HttpClient { get; init; }

    public IModelStore OpenStore(string directory) => ModelStoreFactory.Open(directory, LoggerFactory, Time);

    public IModelDownloader CreateDownloader(IModelStore store) =>
        ModelDownloaderFactory.Create(store, Download, HttpClient, Time, LoggerFactory);

    /// <summary>A Spectre console over the error writer: progress never mixes with results (e.g. --json) on stdout.</summary>
    public static IAnsiConsole ProgressConsole(TextWriter error)
    {
        // Live bars only on a terminal; redirected (logs, CI, tests) gets plain lines without escape codes.
        var terminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        return AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
            Out = new AnsiConsoleOutput(error),
        });
    }

    /// <summary>
    /// False, with one line on the command's error writer, when <c>--models</c> names a folder that does not exist (or a
    /// file). Commands that read the store check it first: opening a store creates its folder, so a mistyped folder became
    /// a new, empty store ("0 files verified", exit 0). The default folder (option not given) is the gateway's own and is
    /// treated as before (an empty store until the first pull); <c>pull</c> and <c>quantize</c> into the store create a folder they are given.
    /// </summary>
    public static bool GivenModelsFolderExists(ParseResult parse, Option<string> models)
    {
        var directory = parse.GetRequiredValue(models);
        if (parse.GetResult(models) is not { Implicit: false } || Directory.Exists(directory))
        {
            return true;
        }

        parse.InvocationConfiguration.Error.WriteLine(File.Exists(directory)
            ? IsAFile(directory)
            : $"inference-mesh: models folder '{ModelsProgress.Printable(directory)}' does not exist.");
        return false;
    }

    /// <summary>
    /// False, with one line on the command's error writer, when <c>--models</c> names a file. For <c>pull</c> and
    /// <c>quantize</c>, which create the folder they are given: creating it over a file threw (a stack trace).
    /// </summary>
    public static bool ModelsFolderIsNotAFile(ParseResult parse, Option<string> models)
    {
        var directory = parse.GetRequiredValue(models);
        if (!File.Exists(directory))
        {
            return true;
        }

        parse.InvocationConfiguration.Error.WriteLine(IsAFile(directory));
        return false;
    }

    private static string IsAFile(string directory) => $"inference-mesh: --models '{ModelsProgress.Printable(directory)}' is a file, not a folder.";

    /// <summary><c>--models DIR</c>: the models folder; the gateway's default when omitted.</summary>
    public static Option<string> ModelsOption() => new("--models")
    {
        Description = "The models folder (default: the gateway's, under $XDG_DATA_HOME/inference-mesh/models).",
        DefaultValueFactory = _ => GatewayDefaults.ModelsDirectory(),
    };
}
