namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>inference-mesh models …</c>: the model cache's command group (System.CommandLine, Spectre.Console
/// progress). Owned by the model cache work; Program.cs only dispatches here.
/// </summary>
internal static class ModelsCli
{
    public static bool Matches(IReadOnlyList<string> args) => args is ["models", ..];

    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        error.WriteLine("inference-mesh: 'models' commands are not available yet.");
        return Task.FromResult(2);
    }
}
