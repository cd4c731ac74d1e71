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

    /// <summary><c>--models DIR</c>: the models folder; the gateway's default when omitted.</summary>
    public static System.CommandLine.Option<string> ModelsOption() => new("--models")
    {
        Description = "The models folder (default: the gateway's, under $XDG_DATA_HOME/inference-mesh/models).",
        DefaultValueFactory = _ => GatewayDefaults.ModelsDirectory(),
    };
}
