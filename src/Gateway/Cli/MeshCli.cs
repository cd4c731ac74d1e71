namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>inference-mesh mesh …</c>: the P2P mesh's command group (id, invite, join, receipts).
/// Owned by the mesh work; Program.cs only dispatches here.
/// </summary>
internal static class MeshCli
{
    public static bool Matches(IReadOnlyList<string> args) => args is ["mesh", ..];

    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        error.WriteLine("inference-mesh: 'mesh' commands are not available yet.");
        return Task.FromResult(2);
    }
}
