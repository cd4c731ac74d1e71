using System.Diagnostics;
using InferenceMesh.Mesh.Serf;

namespace InferenceMesh.Mesh.Tests.Serf;

public sealed class AgentLauncherTests
{
    [Fact]
    public async Task The_agent_dies_when_its_parent_is_killed()
    {
        using var parent = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        using var agent = Process.Start(SerfAgentSupervisor.DieWithParent(parent.Id, "sleep", ["30"]))!;

        await Task.Delay(300);
        Assert.False(agent.HasExited); // the launcher exec'd the agent, which runs while the parent does

        parent.Kill();
        await parent.WaitForExitAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await agent.WaitForExitAsync(limit.Token); // killed by the watcher within about a second
        Assert.True(agent.HasExited);
    }
}
